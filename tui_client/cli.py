"""`tui-client`: the TUI by default, plus scriptable commands on the same engine.

Every command exits 0 on success and non-zero with one line on stderr otherwise:
1 = the command failed, 2 = bad usage, 3 = the profile is open in another process,
4 = the profile's saved session or crypto store cannot be used (missing, empty, damaged, or not
readable with the session's store key); the line says what to do, and nothing was changed.
`doctor` reports all of these as problems and exits 0.

All output is sanitised (`safe_text`): other people's names, bodies and ids never reach the
terminal with escape sequences, control characters or hidden bidi/invisible characters in them.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from . import __version__, paths
from .config import HISTORY_VISIBILITIES, load_settings
from .engine.errors_text import LAST_MEMBER, is_last_member
from .logs import set_log_context, setup_logging
from .safe_text import clean, clean_id, clean_name, json_text

logger = logging.getLogger("tui_client.cli")


class CliError(Exception):
    pass


# -- output: every byte a command prints goes through one of these ---------------------------
#
# Room names, display names, device names, bodies and ids come from other people; printed raw, an
# escape sequence in them is a command to the terminal. Fields are marked as they are put into a
# line (`_name`, `_id`, `clean` for bodies) and the whole line is cleaned again on the way out.


def _name(value: Any) -> str:
    return clean_name(None if value is None else str(value))


def _id(value: Any) -> str:
    return clean_id(None if value is None else str(value))


def out(text: str = "") -> None:
    print(clean(text))


def err(text: str) -> None:
    print(clean_name(text), file=sys.stderr)


def plural(count: int, noun: str) -> str:
    """"1 room key", "3 room keys"."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _print_json(data: Any) -> None:
    sys.stdout.write(json_text(data) + "\n")


def _read_secret(args: argparse.Namespace, attr: str, stdin_flag: str, prompt: str) -> str:
    value = getattr(args, attr, None)
    if value:
        return value
    if getattr(args, stdin_flag, False) or not sys.stdin.isatty():
        value = sys.stdin.readline().rstrip("\n")
    else:
        value = getpass.getpass(prompt)
    if not value:
        raise CliError(f"no {attr.replace('_', ' ')} given")
    return value


# -- command implementations ---------------------------------------------------------------------


EXIT_FAILED, EXIT_USAGE, EXIT_LOCKED, EXIT_PROFILE_UNUSABLE = 1, 2, 3, 4


async def _with_engine(
    args: argparse.Namespace, body: Callable[[Any], Awaitable[int]], *, sync: bool = True,
    broken_store_ok: bool = False, offline_ok: bool = False,
) -> int:
    """Run `body` on the profile's engine, after one sync. With `offline_ok`, a homeserver that
    cannot be reached is said on stderr and `body` reads what the last sync kept
    (`args.offline` is then True)."""
    from .engine.engine import Engine
    from .engine.errors import Unreachable

    engine = Engine(args.profile, settings=args.settings)
    args.offline = False
    try:
        if not await engine.open(broken_store_ok=broken_store_ok):
            raise CliError(f"profile {args.profile!r} is not logged in; run `tui-client login` first")
        if sync:
            try:
                await engine.sync_once()
            except Unreachable as exc:
                if not offline_ok:
                    raise
                args.offline = True
                err(f"offline: {exc}; showing what was kept from the last sync")
        code = await body(engine)
        if engine.logged_in and not engine.store_problem and not args.offline:
            await engine.flush()
        return code
    finally:
        await engine.close()


async def resolve_room(engine: Any, room: str, *, invited_ok: bool = False) -> str:
    """A room id from an id, an alias or an exact room name."""
    return str(await engine.resolve_room(room, invited_ok=invited_ok))


def remove_unused_profile(directory: Path) -> None:
    """Remove a profile folder a failed login created (no session in it), so a typo does not
    leave a profile behind."""
    import shutil

    if not (directory / "session.json").exists():
        shutil.rmtree(directory, ignore_errors=True)


def item_json(item: Any) -> dict[str, Any]:
    """One timeline item for `history --json`: relations are folded into it (an edited message
    shows its newest text and `edited`; reactions, votes and edits are not items of their own);
    a deleted one has `redacted` and no text at all."""
    attachment = item.attachment
    poll = item.poll
    return {
        "event_id": item.event_id,
        "type": item.event_type,
        "msgtype": item.msgtype,
        "sender": item.sender,
        "sender_name": item.sender_name,
        "timestamp": item.timestamp,
        "body": item.body,
        "decrypted": item.decrypted,
        "failure_reason": item.failure_reason,
        "failure_code": item.failure_code,
        "shared_by": item.provenance.shared_by if item.provenance else None,
        "shared_by_device": item.provenance.shared_by_device if item.provenance else None,
        "edited": item.edited,
        "reply_to": item.reply_to,
        "thread_root": item.thread_root,
        "thread_replies": item.thread.replies if item.thread else 0,
        "reactions": {r.key: list(r.senders) for r in item.reactions},
        "redacted": item.redacted,
        "redacted_by": item.redacted_by,
        "redaction_reason": item.redaction_reason,
        "attachment": {
            "name": attachment.name, "mimetype": attachment.mimetype, "size": attachment.size,
            "encrypted": attachment.encrypted,
        } if attachment is not None else None,
        "poll": {
            "question": poll.question, "kind": poll.kind, "max_selections": poll.max_selections,
            "ended": poll.ended,
            "answers": [{"id": a.id, "text": a.text, "voters": list(a.voters)} for a in poll.answers],
        } if poll is not None else None,
        "location": {
            "description": item.location.description, "geo_uri": item.location.geo_uri,
        } if item.location is not None else None,
    }


async def cmd_login(args: argparse.Namespace) -> int:
    from .engine.engine import Engine
    from .engine.server_url import DiscoveryError, discover_homeserver, homeserver_url, server_name

    if args.homeserver:
        homeserver = homeserver_url(args.homeserver)
    elif server_name(args.user) is None:
        raise CliError("give --homeserver URL, or your full user id (--user @name:server) to look it up")
    else:
        try:
            homeserver = await asyncio.to_thread(discover_homeserver, args.user)
        except DiscoveryError as exc:
            raise CliError(f"{exc} with --homeserver") from None
        err(f"homeserver: {homeserver}")
    password = _read_secret(args, "password", "password_stdin", "Password: ")
    directory = paths.profile_dir(args.profile)
    existed = directory.exists()
    engine = Engine(args.profile, settings=args.settings)
    logged_in = False
    try:
        info = await engine.login(homeserver, args.user, password)
        logged_in = True
        await engine.sync_once()
        out(f"logged in as {_id(info.user_id)} (device {_id(info.device_id)}) on profile {args.profile!r}")
        return 0
    finally:
        await engine.close()
        if not logged_in and not existed:
            remove_unused_profile(directory)


async def cmd_logout(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        unusable = engine.store_problem is not None
        await engine.logout()
        out(f"logged out of profile {args.profile!r}")
        if unusable:
            out(f"the unusable crypto store was kept in {engine.dir} (crypto.db.unusable-…); "
                "`tui-client login` now starts a new device")
        return 0

    # Logging out must work when the store does not: it is how the user starts over.
    return await _with_engine(args, body, sync=False, broken_store_ok=True)


async def cmd_whoami(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        me = engine.whoami()
        trust = engine.own_trust()
        data = asdict(me)
        data["extra"] = {
            "identity": "published" if trust.identity_exists else "none",
            "master_key": trust.master_key,
            "device_verified_by_identity": trust.device_verified,
            "can_sign": trust.have_private_keys,
            "cross_signing": trust.detail,
        }
        if args.json:
            _print_json(data)
        else:
            for key, value in data.items():
                if key != "extra":
                    out(f"{key}: {_name(value)}")
            for key, value in data["extra"].items():
                out(f"{key}: {_name(value)}")
        return 0

    return await _with_engine(args, body)


async def cmd_rooms(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        rooms = engine.rooms()
        if args.json:
            _print_json(
                [
                    {
                        "room_id": s.room_id,
                        "name": s.name,
                        "topic": s.topic,
                        "encrypted": s.encrypted,
                        "history_visibility": s.history_visibility,
                        "unread": s.unread,
                        "members": [asdict(m) for m in s.members],
                    }
                    for s in rooms
                ]
            )
        else:
            for s in rooms:
                lock = "🔒" if s.encrypted else "  "
                out(f"{lock} {_name(s.name)}  {_id(s.room_id)}  "
                    f"({plural(s.joined_count, 'member')}, history {_name(s.history_visibility)})")
        return 0

    return await _with_engine(args, body, offline_ok=True)


async def cmd_invites(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        invites = engine.invites()
        if args.json:
            _print_json(
                [
                    {
                        "room_id": i.room_id,
                        "name": i.name,
                        "inviter": i.inviter,
                        "inviter_name": i.inviter_name,
                        "encrypted": i.encrypted,
                        "bundle": asdict(i.bundle) if i.bundle else None,
                    }
                    for i in invites
                ]
            )
        else:
            for i in invites:
                out(f"{_name(i.name)}  {_id(i.room_id)}  invited by {_name(i.inviter_label)}")
        return 0

    return await _with_engine(args, body)


async def cmd_create_room(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        room_id = await engine.create_room(
            args.name,
            encrypted=not args.unencrypted,
            history_visibility=args.history_visibility,
            topic=args.topic,
            invite=tuple(args.invite or ()),
        )
        out(_id(room_id))
        return 0

    return await _with_engine(args, body)


async def cmd_send(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        room_id = await resolve_room(engine, args.room)
        text = args.text if args.text != "-" else sys.stdin.read()
        event_id = await engine.send_text(room_id, text, emote=args.emote, notice=args.notice)
        out(_id(event_id))
        return 0

    return await _with_engine(args, body)


async def cmd_reply(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        room_id = await resolve_room(engine, args.room)
        text = args.text if args.text != "-" else sys.stdin.read()
        out(_id(await engine.reply(room_id, args.event_id, text, in_thread=args.thread, emote=args.emote)))
        return 0

    return await _with_engine(args, body)


async def cmd_edit(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        room_id = await resolve_room(engine, args.room)
        text = args.text if args.text != "-" else sys.stdin.read()
        out(_id(await engine.edit(room_id, args.event_id, text)))
        return 0

    return await _with_engine(args, body)


async def cmd_react(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        room_id = await resolve_room(engine, args.room)
        out(_id(await engine.react(room_id, args.event_id, args.key)))
        return 0

    return await _with_engine(args, body)


async def cmd_redact(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        room_id = await resolve_room(engine, args.room)
        out(_id(await engine.redact(room_id, args.event_id, args.reason)))
        return 0

    return await _with_engine(args, body)


async def cmd_invite(args: argparse.Namespace) -> int:
    from .ui.commands import USER_ID

    if not USER_ID.match(args.user):
        raise CliError(f"{args.user!r} is not a user id; use the full form @name:server")

    async def body(engine: Any) -> int:
        room_id = await resolve_room(engine, args.room)
        if not args.no_share:
            # Say what will happen to the history before the invite goes out, having asked the
            # server about the invitee (a user who does not exist gets no promise).
            preview = await engine.preview_invite(room_id, args.user)
            if preview.warning:
                err(f"warning: {_name(preview.warning)}")
            err(f"history: {_name(preview.reason)}")
        result = await engine.invite(
            room_id, args.user, share_history=not args.no_share,
            invite_if_sharing_fails=args.invite_if_sharing_fails,
        )
        if result is not None and result.shared:
            out(f"invited {_id(args.user)}; {_name(result.reason)}")
        elif result is not None:
            out(f"invited {_id(args.user)}; history not shared: {_name(result.reason)}")
        else:
            out(f"invited {_id(args.user)}")
        return 0

    return await _with_engine(args, body)


async def cmd_join(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        room_id = await resolve_room(engine, args.room, invited_ok=True)
        joined = await engine.join(room_id)
        out(_id(joined))
        return 0

    return await _with_engine(args, body)


async def cmd_decline(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        room_id = await resolve_room(engine, args.room, invited_ok=True)
        await engine.decline(room_id)
        out(f"declined {_id(room_id)}")
        return 0

    return await _with_engine(args, body)


async def cmd_leave(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        room_id = await resolve_room(engine, args.room)
        room = engine.room(room_id)
        last = room is not None and is_last_member(room, engine.user_id)
        await engine.leave(room_id)
        out(f"left {_id(room_id)}")
        if last:
            err(f"note: {LAST_MEMBER}")
        return 0

    return await _with_engine(args, body)


async def cmd_set_visibility(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        room_id = await resolve_room(engine, args.room)
        await engine.set_history_visibility(room_id, args.visibility)
        out(f"history visibility of {_id(room_id)} is now {args.visibility}")
        return 0

    return await _with_engine(args, body)


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
            _print_json([item_json(i) for i in items])
        else:
            for i in items:
                out(f"{_name(i.sender_name)}: {history_line(i)}")
        return 0

    return await _with_engine(args, body, offline_ok=True)


def history_line(item: Any) -> str:
    """One item of `history` in words: its text (or why there is none) and what hangs on it."""
    if item.redacted:
        by = f" by {_id(item.redacted_by)}" if item.redacted_by and item.redacted_by != item.sender else ""
        why = f": {clean(item.redaction_reason)}" if item.redaction_reason else ""
        return f"(message deleted{by}{why})"
    text = clean(item.body) if item.body is not None else f"⚠ {_name(item.failure_reason)}"
    if item.kind == "emote":
        text = f"* {_name(item.sender_name)} {text}"
    elif item.msgtype == "m.notice":
        text = f"[notice] {text}"
    if item.location is not None and item.location.geo_uri and item.location.geo_uri not in text:
        text += f" ({_name(item.location.geo_uri)})"
    before = []
    if item.reply is not None:
        quoted = clean(item.reply.snippet) if item.reply.snippet else {"deleted": "a deleted message"}.get(
            item.reply.state, "a message not loaded")
        before.append(f"[reply to {_name(item.reply.sender_name or item.reply_to)}: {quoted}]")
    if item.thread_root:
        before.append("[in a thread]")
    after = []
    if item.edited:
        after.append("(edited)")
    if item.provenance or item.edit_provenance:
        after.append(f"[{_name(item.shown_provenance.badge)}]")
    if item.thread:
        count = item.thread.replies
        after.append(f"[thread: {count} repl{'y' if count == 1 else 'ies'}]")
    if item.reactions:
        after.append(" ".join(f"{clean(r.key)} {r.count}" for r in item.reactions))
    return " ".join(before + [text] + after)


async def cmd_devices(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        user = args.user or engine.user_id
        await engine.refresh_keys(user)
        info = engine.identity_info(user)
        devices = engine.devices(user)
        if args.json:
            _print_json(
                {
                    "user_id": user,
                    "identity": info.state,
                    "master_key": info.master_key,
                    "previous_master_key": info.previous_master_key,
                    "devices": [asdict(d) for d in devices],
                }
            )
        else:
            out(f"{_id(user)}: identity {_name(info.state)}"
                + (f" (master key {_id(info.master_key)})" if info.master_key else ""))
            for d in devices:
                mark = "✔ cross-signed by owner" if d.cross_signed_by_owner else "✘ not cross-signed"
                out(f"  {_id(d.device_id):14} {mark}  {_name(d.display_name)}")
        return 0

    return await _with_engine(args, body)


async def cmd_verify(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        secret = _read_secret(args, "recovery_key_value", "stdin", "Recovery key or passphrase: ")
        trust = await engine.verify_with_recovery_key(secret)
        out(f"this device is {'now verified by your identity' if trust.device_verified else 'still not verified'}")
        return 0 if trust.device_verified else 1

    args.recovery_key_value = None
    return await _with_engine(args, body)


async def cmd_setup_recovery(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        key = await engine.setup_recovery()
        out("Your recovery key (it verifies your other devices; keep it somewhere safe, it is shown once):")
        out(f"\n    {key}\n")
        return 0

    return await _with_engine(args, body)


async def cmd_reset_identity(args: argparse.Namespace) -> int:
    if not args.yes:
        raise CliError(
            "resetting your identity makes every device and contact distrust your old one; "
            "people who verified you will see a warning. Re-run with --yes if you mean it"
        )

    async def body(engine: Any) -> int:
        password = _read_secret(args, "password", "password_stdin", "Account password: ")
        trust = await engine.reset_identity(password)
        out(f"new identity published (master key {_id(trust.master_key)}); this device is verified by it")
        return 0

    return await _with_engine(args, body)


def _passphrase(args: argparse.Namespace, prompt: str, *, confirm: bool = False) -> str:
    if args.passphrase_stdin or not sys.stdin.isatty():
        value = sys.stdin.readline().rstrip("\n")
    else:
        value = getpass.getpass(prompt)
        if confirm and getpass.getpass("Repeat it: ") != value:
            raise CliError("the passphrases do not match")
    if not value:
        raise CliError("no passphrase given")
    return value


async def cmd_export_keys(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        room_id = await resolve_room(engine, args.room) if args.room else None
        passphrase = _passphrase(args, "Passphrase to protect the file: ", confirm=True)
        count = await engine.export_keys(args.file, passphrase, room_id)
        out(f"exported {plural(count, 'room key')} to {args.file}")
        return 0

    return await _with_engine(args, body, sync=False)


async def cmd_import_keys(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        passphrase = _passphrase(args, "Passphrase of the file: ")
        imported, known, skipped = await engine.import_keys(args.file, passphrase)
        out(f"imported {plural(imported, 'room key')}; {known} already known; {skipped} skipped")
        return 0

    return await _with_engine(args, body, sync=False)


async def cmd_inspect(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        room_id = await resolve_room(engine, args.room, invited_ok=True)
        report = engine.inspect_room(room_id)
        if args.json:
            _print_json(asdict(report))
        else:
            out(f"{_name(report.name)} ({_id(room_id)}); history: {_name(report.history_visibility)}")
            for sess in report.sessions:
                flag = "shareable" if sess.shareable else "not shareable"
                creator = f"{_id(sess.creator_user or '?')} {_id(sess.creator_device or '')}".strip()
                out(f"  session {_id(sess.session_id[:12])}… from {creator}, index {sess.first_known_index}, "
                    f"{flag}; {_name(sess.origin_detail)}")
            for w in report.withheld:
                out(f"  withheld {_id(w.session_id[:12])}…: {_name(w.code)} ({_name(w.reason or 'no reason')}) "
                    f"via {_name(w.via)} from {_id(w.from_user)}")
            for b in report.bundles:
                out(f"  bundle from {_id(b.sender)}: {_name(b.state)} ({_name(b.detail or '')}) "
                    f"keys={b.key_count} imported={b.imported_count}")
            for m in report.members:
                devices = ", ".join(f"{_id(d.device_id)}{'✔' if d.cross_signed_by_owner else '✘'}" for d in m.devices)
                out(f"  member {_id(m.user_id)}: identity {_name(m.identity)}; devices {devices}")
        return 0

    return await _with_engine(args, body)


async def cmd_doctor(args: argparse.Namespace) -> int:
    from .engine.engine import Engine
    from .engine.lock import ProfileLockedError

    from .engine.session import SessionFileError

    engine = Engine(args.profile, settings=args.settings)
    problems: list[str] = []
    try:
        try:
            if await engine.open(broken_store_ok=True) and not engine.store_problem:
                try:
                    await engine.sync_once()
                except Exception as exc:
                    problems.append(f"sync failed: {exc}")
        except (ProfileLockedError, SessionFileError) as exc:
            problems.append(str(exc))
        report = await engine.doctor()
    finally:
        await engine.close()
    from .ui.keymap import keymap_problems

    report["config_problems"] = list(args.config_problems) + keymap_problems(args.settings.keys)
    report["problems"] = problems + report.get("problems", [])
    if args.json:
        _print_json(report)
        return 0
    def show(title: str, mapping: dict[str, Any]) -> None:
        out(f"{title}:")
        for key, value in mapping.items():
            out(f"  {key:22} {_name(value)}")
    show("versions", report["versions"])
    show("paths", report["paths"])
    out(f"profile: {report['profile']} ({'logged in' if report['logged_in'] else 'not logged in'})")
    for key in ("account", "homeserver", "cross_signing", "sync"):
        if key in report:
            show(key, report[key])
    store = report.get("store")
    if store and not store["usable"]:
        out(f"store: {store['path']} NOT USABLE (see the problem below)")
    elif store:
        out(f"store: {store['path']} ({store['size_bytes'] / 1e6:.1f} MB, integrity {_name(store['integrity'])}, "
            f"{store['sessions_total']} Megolm sessions)")
        out(f"  account ed25519 {_id(store['account_ed25519'])}")
        for room_id, count in sorted(store["sessions_by_room"].items()):
            out(f"  {_id(room_id)}: {plural(count, 'session')}")
    keys = report.get("device_keys")
    if keys and keys.get("checked"):
        verdict = {True: "match this store's account", False: "DO NOT match this store's account",
                   None: "(no account to compare with)"}[keys.get("matches")]
        out(f"device keys on the server: ed25519 {_id(keys['server_ed25519'] or 'none')} {verdict}")
    elif keys:
        out(f"device keys on the server: not checked ({_name(keys.get('error'))})")
    for p in report.get("pending_bundles", []):
        out(f"pending key bundle: {_id(p['room_id'])} from {_id(p['inviter'])}")
    for problem in report["problems"] + report["config_problems"]:
        out(f"problem: {_name(problem)}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo.launcher import run_demo

    return run_demo(as_user=args.as_user, fresh=args.fresh, server_only=args.server_only,
                    hints=not args.no_hints and args.settings.demo_hints)


async def cmd_sync(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + args.seconds
        while loop.time() < deadline:
            await engine.sync_once(timeout_ms=int(min(5.0, max(0.0, deadline - loop.time())) * 1000))
        return 0

    return await _with_engine(args, body)


# -- argument parsing -------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tui-client",
        description="A terminal Matrix client with encrypted history sharing (MSC4268). "
        "Without a command it starts the terminal UI.",
    )
    parser.add_argument("--version", action="version", version=f"tui-client {__version__}")
    parser.add_argument("--profile", default=None, help="account profile to use (default: from config, else 'default')")
    parser.add_argument("--log-level", default=None, choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("-v", "--verbose", action="store_true", help="also log to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, func: Callable, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(func=func)
        return p

    p = add("login", cmd_login, "log in with a password and save the session")
    p.add_argument("--homeserver", help="e.g. https://matrix.example.org (default: looked up from a full "
                   "user id, as other clients do); http:// is assumed for 127.0.0.1 and localhost")
    p.add_argument("--user", required=True, help="user name, or full user id (@name:server)")
    p.add_argument("--password", help="the password (prefer --password-stdin or the prompt)")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")

    add("logout", cmd_logout, "log out and delete this profile's session and keys")

    p = add("whoami", cmd_whoami, "show the logged-in user and device")
    p.add_argument("--json", action="store_true")

    p = add("rooms", cmd_rooms, "list joined rooms")
    p.add_argument("--json", action="store_true")

    p = add("invites", cmd_invites, "list pending invites")
    p.add_argument("--json", action="store_true")

    p = add("create-room", cmd_create_room, "create a room (encrypted by default) and print its id")
    p.add_argument("name")
    p.add_argument("--history-visibility", choices=HISTORY_VISIBILITIES, default=None)
    p.add_argument("--topic")
    p.add_argument("--unencrypted", action="store_true")
    p.add_argument("--invite", action="append", metavar="USER")

    p = add("send", cmd_send, "send a text message (markdown); TEXT '-' reads stdin")
    p.add_argument("room")
    p.add_argument("text")
    p.add_argument("--emote", action="store_true", help="send as /me")
    p.add_argument("--notice", action="store_true", help="send as a notice")

    p = add("reply", cmd_reply, "reply to a message (in its thread if it is in one); prints the new event id")
    p.add_argument("room")
    p.add_argument("event_id")
    p.add_argument("text", help="markdown; '-' reads stdin")
    p.add_argument("--thread", action="store_true",
                   help="write in the thread of EVENT_ID (starting one from it) instead of replying to it")
    p.add_argument("--emote", action="store_true", help="send as /me")

    p = add("edit", cmd_edit, "replace the text of one of your messages; prints the edit's event id")
    p.add_argument("room")
    p.add_argument("event_id")
    p.add_argument("text", help="markdown; '-' reads stdin")

    p = add("react", cmd_react, "react to a message (e.g. 👍); prints the reaction's event id")
    p.add_argument("room")
    p.add_argument("event_id")
    p.add_argument("key")

    p = add("redact", cmd_redact, "delete a message (or take back a reaction by its event id); prints the "
            "redaction's event id")
    p.add_argument("room")
    p.add_argument("event_id")
    p.add_argument("--reason", help="say why (shown to everyone)")

    p = add("invite", cmd_invite, "invite a user, sharing the keys to earlier messages when the room allows it")
    p.add_argument("room")
    p.add_argument("user")
    p.add_argument("--no-share", action="store_true", help="do not share the room's history keys")
    p.add_argument(
        "--invite-if-sharing-fails", action="store_true",
        help="send the invite even if sharing the history keys fails (default: do not invite)",
    )

    p = add("join", cmd_join, "join a room or accept an invite")
    p.add_argument("room")

    p = add("decline", cmd_decline, "decline an invite")
    p.add_argument("room")

    p = add("leave", cmd_leave, "leave a room")
    p.add_argument("room")

    p = add("set-visibility", cmd_set_visibility, "set who can read the room's history")
    p.add_argument("room")
    p.add_argument("visibility", choices=HISTORY_VISIBILITIES)

    p = add("history", cmd_history, "print a room's history, oldest first")
    p.add_argument("room")
    p.add_argument("--json", action="store_true")
    p.add_argument("--all", action="store_true", help="include membership and state events")
    p.add_argument("--wait", type=float, default=0, metavar="SECONDS", help="wait up to this long for keys")

    p = add("devices", cmd_devices, "list a user's devices and whether their owner cross-signed them")
    p.add_argument("user", nargs="?", help="default: yourself")
    p.add_argument("--json", action="store_true")

    p = add("verify", cmd_verify, "verify this device with your recovery key (read from a prompt or stdin)")
    p.add_argument("--recovery-key", action="store_true", help="use the recovery key (the default way)")
    p.add_argument("--stdin", action="store_true", help="read the key from stdin")

    add("setup-recovery", cmd_setup_recovery, "store your cross-signing keys in secret storage; print a recovery key")

    p = add("reset-identity", cmd_reset_identity, "replace your cross-signing identity (explicit, with --yes)")
    p.add_argument("--yes", action="store_true")
    p.add_argument("--password", help=argparse.SUPPRESS)
    p.add_argument("--password-stdin", action="store_true")

    p = add("export-keys", cmd_export_keys, "export room keys to a passphrase-protected file (Element's format)")
    p.add_argument("file", type=Path)
    p.add_argument("--room", help="only this room's keys")
    p.add_argument("--passphrase-stdin", action="store_true")

    p = add("import-keys", cmd_import_keys, "import room keys from a passphrase-protected file")
    p.add_argument("file", type=Path)
    p.add_argument("--passphrase-stdin", action="store_true")

    p = add("inspect", cmd_inspect, "show a room's crypto state: sessions, withheld keys, bundles, devices")
    p.add_argument("room")
    p.add_argument("--json", action="store_true")

    p = add("doctor", cmd_doctor, "versions, paths, homeserver, store health, cross-signing, pending bundles")
    p.add_argument("--json", action="store_true")

    p = add("demo", cmd_demo, "encrypted history sharing on a private homeserver, offline: Alice invites you")
    p.add_argument("--fresh", action="store_true", help="start the demo over (new homeserver, new story)")
    p.add_argument("--server-only", action="store_true", help="only run the homeserver; print URL and users")
    p.add_argument("--as", dest="as_user", default="bob", metavar="USER", help="whose view: bob (default) or charlie")
    p.add_argument("--no-hints", action="store_true", help="hide the guided hint line")

    p = add("sync", cmd_sync, "sync for a while (receive keys and messages) and exit")
    p.add_argument("--seconds", type=float, default=5.0)

    return parser


def main(argv: list[str] | None = None) -> int:
    # Everything the client writes (store, session, logs, screenshots, key files) is for this
    # user only: files 0600, directories 0700, whatever the shell's umask.
    os.umask(0o077)
    parser = build_parser()
    args = parser.parse_args(argv)
    loaded = load_settings()
    args.settings = loaded.settings
    args.config_problems = loaded.problems
    args.profile = args.profile or loaded.settings.default_profile
    try:
        paths.validate_profile_name(args.profile)
    except ValueError as exc:
        parser.error(str(exc))
    level = args.log_level or loaded.settings.log_level
    setup_logging(level, stderr_level="DEBUG" if args.verbose else None)
    set_log_context(args.profile if args.command != "demo" else "demo")
    for problem in loaded.problems:
        logger.warning("config: %s", problem)
        if args.command:
            err(f"warning: {problem}")
    if not args.command:
        from .ui.app import run_app

        return run_app(args.profile, loaded)
    from .engine.errors import EngineError, StoreError
    from .engine.lock import ProfileLockedError
    from .engine.session import SessionFileError

    try:
        if not asyncio.iscoroutinefunction(args.func):
            return args.func(args)
        return asyncio.run(args.func(args))
    except ProfileLockedError as exc:
        err(f"error: {exc}")
        return EXIT_LOCKED
    except (StoreError, SessionFileError) as exc:
        err(f"error: {exc}")
        return EXIT_PROFILE_UNUSABLE
    except (CliError, EngineError) as exc:
        from .engine.errors_text import explain

        logger.info("%s failed: %s", args.command, exc)
        err(f"error: {explain(str(exc))}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        err("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
