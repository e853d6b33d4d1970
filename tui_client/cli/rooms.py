"""Commands about rooms: list, create, send (and reply, edit, react, redact), invite (history
first), join, leave, history, share-preview, sync."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..engine.errors_text import LAST_MEMBER, is_last_member
from ..safe_text import clean
from .common import CliError, resolve_room, with_engine
from .output import err, history_line, id_text, item_json, name_text, out, plural, print_json

logger = logging.getLogger("tui_client.cli")


async def cmd_rooms(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        rooms = engine.rooms()
        if args.json:
            print_json(
                [
                    {
                        "room_id": s.room_id,
                        "name": s.name,
                        "topic": s.topic,
                        "encrypted": s.encrypted,
                        "history_visibility": s.history_visibility,
                        "unread": s.unread,
                        "highlight": s.highlight,
                        "is_direct": s.is_direct,
                        "dm_user": s.dm_user,
                        "is_space": s.is_space,
                        "children": [asdict(c) for c in s.children],
                        "last_active": s.last_active or None,
                        "members": [asdict(m) for m in s.members],
                    }
                    for s in rooms
                ]
            )
        else:
            for s in rooms:
                lock = "🔒" if s.encrypted else "  "
                what = f"direct chat with {id_text(s.dm_user)}, " if s.dm_user else ""
                if s.is_space:
                    what = f"space of {plural(len(s.children), 'room')}, "
                out(f"{lock} {name_text(s.name)}  {id_text(s.room_id)}  "
                    f"({what}{plural(s.joined_count, 'member')}, history {name_text(s.history_visibility)})")
        return 0

    return await with_engine(args, body, offline_ok=True)


async def cmd_invites(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        invites = engine.invites()
        if args.json:
            print_json(
                [
                    {
                        "room_id": i.room_id,
                        "name": i.name,
                        "inviter": i.inviter,
                        "inviter_name": i.inviter_name,
                        "encrypted": i.encrypted,
                        "is_direct": i.is_direct,
                        "is_space": i.is_space,
                        "bundle": asdict(i.bundle) if i.bundle else None,
                    }
                    for i in invites
                ]
            )
        else:
            for i in invites:
                what = "direct chat, " if i.is_direct else "space, " if i.is_space else ""
                out(f"{name_text(i.name)}  {id_text(i.room_id)}  {what}invited by {name_text(i.inviter_label)}")
        return 0

    return await with_engine(args, body)


async def cmd_create_room(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        room_id = await engine.create_room(
            args.name,
            encrypted=not args.unencrypted,
            history_visibility=args.history_visibility,
            topic=args.topic,
            invite=tuple(args.invite or ()),
        )
        out(id_text(room_id))
        return 0

    return await with_engine(args, body)


async def cmd_send(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        room_id = await resolve_room(engine, args.room)
        text = args.text if args.text != "-" else sys.stdin.read()
        event_id = await engine.send_text(room_id, text, emote=args.emote, notice=args.notice)
        out(id_text(event_id))
        return 0

    return await with_engine(args, body)


async def cmd_reply(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        room_id = await resolve_room(engine, args.room)
        text = args.text if args.text != "-" else sys.stdin.read()
        out(id_text(await engine.reply(room_id, args.event_id, text, in_thread=args.thread, emote=args.emote)))
        return 0

    return await with_engine(args, body)


async def cmd_edit(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        room_id = await resolve_room(engine, args.room)
        text = args.text if args.text != "-" else sys.stdin.read()
        out(id_text(await engine.edit(room_id, args.event_id, text)))
        return 0

    return await with_engine(args, body)


async def cmd_react(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        room_id = await resolve_room(engine, args.room)
        out(id_text(await engine.react(room_id, args.event_id, args.key)))
        return 0

    return await with_engine(args, body)


async def cmd_redact(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        room_id = await resolve_room(engine, args.room)
        out(id_text(await engine.redact(room_id, args.event_id, args.reason)))
        return 0

    return await with_engine(args, body)


async def cmd_invite(args: argparse.Namespace) -> int:
    from ..ui.slash_commands import USER_ID

    if not USER_ID.match(args.user):
        raise CliError(f"{args.user!r} is not a user id; use the full form @name:server")

    async def body(engine: Any) -> int:
        room_id = await resolve_room(engine, args.room)
        if not args.no_share:
            # Say what will happen to the history before the invite goes out, having asked the
            # server about the invitee (a user who does not exist gets no promise).
            preview = await engine.preview_invite(room_id, args.user)
            if preview.warning:
                err(f"warning: {name_text(preview.warning)}")
            err(f"history: {name_text(preview.reason)}")
        result = await engine.invite(
            room_id, args.user, share_history=not args.no_share,
            invite_if_sharing_fails=args.invite_if_sharing_fails,
        )
        if result is not None and result.shared:
            out(f"invited {id_text(args.user)}; {name_text(result.reason)}")
        elif result is not None:
            out(f"invited {id_text(args.user)}; history not shared: {name_text(result.reason)}")
        else:
            out(f"invited {id_text(args.user)}")
        return 0

    return await with_engine(args, body)


async def cmd_join(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        room_id = await resolve_room(engine, args.room, invited_ok=True)
        joined = await engine.join(room_id)
        out(id_text(joined))
        return 0

    return await with_engine(args, body)


async def cmd_decline(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        room_id = await resolve_room(engine, args.room, invited_ok=True)
        await engine.decline(room_id)
        out(f"declined {id_text(room_id)}")
        return 0

    return await with_engine(args, body)


async def cmd_leave(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        room_id = await resolve_room(engine, args.room)
        room = engine.room(room_id)
        last = room is not None and is_last_member(room, engine.user_id)
        await engine.leave(room_id)
        out(f"left {id_text(room_id)}")
        if last:
            err(f"note: {LAST_MEMBER}")
        return 0

    return await with_engine(args, body)


async def cmd_set_visibility(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        room_id = await resolve_room(engine, args.room)
        await engine.set_history_visibility(room_id, args.visibility)
        out(f"history visibility of {id_text(room_id)} is now {args.visibility}")
        return 0

    return await with_engine(args, body)


async def cmd_history(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        room_id = await resolve_room(engine, args.room)
        if args.offline:
            items = engine.timeline(room_id)
            if not items:
                raise CliError(f"offline, and nothing of {args.room} was kept from the last sync")
        else:
            if args.wait:
                await engine.wait_until(
                    lambda: all(not i.failed for i in engine.timeline(room_id)), args.wait
                )
            items = await engine.load_full_history(room_id)
            if args.wait and any(i.failed for i in items):
                await engine.wait_until(lambda: all(not i.failed for i in engine.timeline(room_id)), args.wait)
                items = engine.timeline(room_id)
        if not args.all:
            items = [i for i in items if i.is_message]
        if args.json:
            print_json([item_json(i) for i in items])
        else:
            for i in items:
                out(f"{name_text(i.sender_name)}: {history_line(i)}")
        return 0

    return await with_engine(args, body, offline_ok=True)


async def cmd_share_preview(args: argparse.Namespace) -> int:
    """What USER would read of ROOM's history if invited now, message by message, and why not."""

    async def body(engine: Any) -> int:
        room_id = await resolve_room(engine, args.room)
        items = {i.event_id: i for i in await engine.load_full_history(room_id)}
        prediction = await engine.share_prediction(room_id, args.user)
        if args.json:
            print_json({
                "shareable": prediction.shareable,
                "reason": prediction.reason,
                "events": [{"event_id": e.event_id, "readable": e.readable, "reason": e.reason}
                           for e in prediction.events],
            })
            return 0
        if not prediction.shareable:
            out(f"nothing will be shared: {name_text(prediction.reason)}")
        for e in prediction.events:
            item = items.get(e.event_id)
            who = name_text(item.sender_name) if item else "?"
            text = clean(item.body) if item and item.body is not None else "(encrypted)"
            mark = "✓" if e.readable else "✗"
            reason = "" if e.readable else f"  — {name_text(e.reason)}"
            out(f"{mark} {who}: {text[:80]}{reason}")
        out(prediction.summary(f"{args.user}"))
        return 0

    return await with_engine(args, body)


async def cmd_sync(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + args.seconds
        while loop.time() < deadline:
            await engine.sync_once(timeout_ms=int(min(5.0, max(0.0, deadline - loop.time())) * 1000))
        return 0

    return await with_engine(args, body)


async def cmd_dm(args: argparse.Namespace) -> int:
    """Open (or create) the direct chat with USER and print its room id; with TEXT, send it."""
    from ..ui.slash_commands import USER_ID

    if not USER_ID.match(args.user):
        raise CliError(f"{args.user!r} is not a user id; use the full form @name:server")

    async def body(engine: Any) -> int:
        room_id = await engine.open_dm(args.user)
        if args.text:
            await engine.send_text(room_id, args.text if args.text != "-" else sys.stdin.read())
        out(id_text(room_id))
        return 0

    return await with_engine(args, body)


async def cmd_upload(args: argparse.Namespace) -> int:
    """Send a file (m.image for images, else m.file; encrypted in an encrypted room); prints the
    event id."""
    path = Path(args.path)

    async def body(engine: Any) -> int:
        room_id = await resolve_room(engine, args.room)
        out(id_text(await engine.send_file(room_id, path)))
        return 0

    return await with_engine(args, body)


async def cmd_download(args: argparse.Namespace) -> int:
    """Download the file of a message (decrypted, its hash checked) to PATH (a file or a
    directory; default: the downloads directory); prints where it went."""

    async def body(engine: Any) -> int:
        room_id = await resolve_room(engine, args.room)
        target = await engine.save_attachment(room_id, args.event_id, Path(args.path) if args.path else None)
        out(name_text(str(target)))
        return 0

    return await with_engine(args, body)
