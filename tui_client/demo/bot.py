"""Alice, the demo's friendly bot: she answers when someone writes in the demo room, saying only
what is true of the room at that moment (who got keys from whom, whether Charlie is there yet).

Runs in its own process (`python -m tui_client.demo.bot DEMO_DIR`) so that nothing it does, not
even a crash, can take the TUI down. Logs to DEMO_DIR/bot.log.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import time
from pathlib import Path

from ..engine.engine import Engine
from ..engine.events import EngineEvent, TimelineItemsAdded
from ..engine.models import TimelineItem
from ..logs import PrivateRotatingFileHandler, add_line_context, set_log_context, setup_logging
from ..records import record
from .story import Demo
from .windows import live_windows

logger = logging.getLogger("tui_client.demo.bot")

CHECKLIST = "🚀 Launch checklist looks good to me."


@record
class BotFacts:
    """What Alice can see when she answers, so she never claims what did not happen."""

    localpart: str  # who wrote ("bob", "charlie", …)
    name: str  # their display name
    shared_by: str | None = None  # the display name of whoever sent them this room's key bundle
    got_keys: bool = False  # the bundle went to the device they wrote from
    charlie: str | None = None  # Charlie's membership in the room: None, "invite" or "join"
    charlie_got_keys: bool = False  # someone sent Charlie's devices the room's key bundle


def lines_for(f: BotFacts) -> list[str]:
    """Alice's answers to `f.localpart`, in turn (the last one repeats), for the room as it is."""
    if f.localpart == "bob":
        if f.got_keys and f.shared_by == "Alice":
            lines = [
                f"Hi {f.name}! 👋 You can read what we wrote before you joined because my client shared "
                "the room keys with you when I invited you. The 🔑 beside a message says who vouched for it.",
                "Dave's message is the one you cannot read: his client never marks its keys as shareable, "
                "so I could not pass them on. Select it to see the reason.",
            ]
        else:
            lines = [
                f"Hi {f.name}! 👋 No keys to what we wrote before you joined reached the device you are "
                "writing from (key bundles only go to devices their owner cross-signed, when the invite "
                "is sent), so those messages stay unreadable there. New messages read fine.",
            ]
        if f.charlie is None:
            lines.append(
                "Try inviting Charlie (ctrl+p, then Invite Charlie). Your client passes on the keys you got "
                "from me, and the note on Dave's message too."
            )
        elif f.charlie == "invite":
            lines.append(
                "Charlie has your invite. " + (
                    "When they accept, their client imports the keys yours passed on."
                    if f.charlie_got_keys else "No keys went with it, so they will read only new messages."
                )
            )
        else:
            lines.append(
                "Charlie is here too! 👋 " + (
                    "They read what we wrote before with the keys your client passed on: 🔑 shared by Bob."
                    if f.charlie_got_keys else "No keys went with the invite, so they read only new messages."
                )
            )
        return lines + [CHECKLIST]
    if f.localpart == "charlie":
        if f.got_keys and f.shared_by:
            inviter = f.shared_by
            lines = [
                f"Welcome, {f.name}! 👋 " + (
                    f"{inviter}'s client passed on the keys I had shared with {'him' if inviter == 'Bob' else 'them'}, "
                    "so you can read what we "
                    f"wrote before you joined: that is what 🔑 shared by {inviter} means."
                    if inviter != "Alice" else
                    "My client shared the room keys with you, so you can read what we wrote before you joined."
                ),
                f"Dave's message stays unreadable for you too: its keys were never shareable, and "
                f"{inviter}'s client told yours why.",
            ]
        else:
            lines = [
                f"Welcome, {f.name}! 👋 No keys to what we wrote before you joined reached the device you "
                "are writing from, so those messages stay unreadable there. New messages read fine.",
            ]
        return lines + [CHECKLIST]
    return [f"Hi {f.name}! 👋 This room's history is shared with people we invite, key by key.", CHECKLIST]


def reply_for(facts: BotFacts, turn: int) -> str:
    """Alice's `turn`-th answer (from 0) to the person the facts are about."""
    lines = lines_for(facts)
    return lines[min(turn, len(lines) - 1)]


def facts_for(demo: Demo, alice: Engine, item: TimelineItem) -> BotFacts:
    """What Alice knows about the person who wrote `item`, from the room and the shares record."""
    localpart = item.sender.split(":", 1)[0].lstrip("@")
    room = alice.room(item.room_id)
    members = {m.user_id: m for m in room.members} if room is not None else {}
    shares = demo.shares(item.room_id)

    def name(user_id: str) -> str:
        member = members.get(user_id)
        return member.display_name if member is not None and member.display_name else user_id

    def received(user_id: str, device: str | None) -> bool:
        share = shares.get(user_id)
        if not share or not share.get("devices"):
            return False
        return device is None or device in share["devices"]

    share = shares.get(item.sender)
    charlie_id = demo.user_id("charlie")
    charlie = members.get(charlie_id)
    return BotFacts(
        localpart=localpart,
        name=item.sender_name or localpart.capitalize(),
        shared_by=name(share["by"]) if share else None,
        got_keys=received(item.sender, item.sender_device),
        charlie=charlie.membership if charlie is not None else None,
        charlie_got_keys=received(charlie_id, None),
    )


async def run(base: Path, reply_delay: float = 0.8) -> None:
    demo = Demo(base, progress=logger.info)
    alice = await demo.engine("alice")
    started_ms = time.time() * 1000
    queue: asyncio.Queue = asyncio.Queue()
    turns: dict[str, int] = {}

    def on_event(event: EngineEvent) -> None:
        if isinstance(event, TimelineItemsAdded) and not event.at_start:
            for item in event.items:
                if item.is_message and not item.own and item.timestamp >= started_ms:
                    queue.put_nowait(item)

    alice.subscribe(on_event)
    alice.start_sync()
    logger.info("alice is listening")
    watchdog = asyncio.create_task(_exit_with_the_demo(base, asyncio.current_task()))
    try:
        while True:
            item = await queue.get()
            await asyncio.sleep(reply_delay)
            turn = turns.get(item.sender, 0)
            turns[item.sender] = turn + 1
            try:
                text = reply_for(facts_for(demo, alice, item), turn)
            except Exception:  # a reply with less detail beats none
                logger.exception("alice could not work out what to say")
                text = CHECKLIST
            try:
                await alice.send_text(item.room_id, text)
            except Exception:
                logger.exception("alice could not answer")
    finally:
        watchdog.cancel()
        await alice.close()


async def _exit_with_the_demo(base: Path, task: asyncio.Task | None, interval: float = 1.0) -> None:
    """The last demo window to quit stops the bot. If the windows are killed instead, the bot
    notices that the launcher that started it is gone and no demo window is left, and stops too
    (releasing Alice's profile for the next demo)."""
    parent = os.getppid()
    while True:
        await asyncio.sleep(interval)
        if os.getppid() != parent and not live_windows(base):
            logger.info("no demo window is left; stopping")
            if task is not None:
                task.cancel()
            return


def setup_bot_logging(base: Path) -> None:
    """bot.log at INFO, each line with the bot's pid and "demo:alice-bot"."""
    setup_logging("INFO", to_file=False)
    set_log_context("demo:alice-bot")
    handler = PrivateRotatingFileHandler(base / "bot.log", maxBytes=5 * 1024 * 1024, backupCount=1, encoding="utf-8")
    handler.setLevel(logging.INFO)
    add_line_context(handler)
    logging.getLogger().addHandler(handler)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tui_client.demo.bot")
    parser.add_argument("base", type=Path)
    args = parser.parse_args()
    setup_bot_logging(args.base)
    loop = asyncio.new_event_loop()
    task = loop.create_task(run(args.base))
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    try:
        loop.run_until_complete(task)
    except asyncio.CancelledError:
        pass
    finally:
        loop.close()


if __name__ == "__main__":
    main()
