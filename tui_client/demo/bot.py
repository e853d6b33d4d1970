"""Alice, the demo's friendly bot: she answers when someone writes in the demo room.

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

from ..engine.events import EngineEvent, TimelineItemsAdded
from ..logs import setup_logging
from .story import Demo

logger = logging.getLogger("tui_client.demo.bot")

# What Alice says to each person, in turn (then the last line, again). Bob was invited by
# Alice; Charlie by Bob, who passed on the keys Alice had shared with him.
REPLIES = {
    "bob": (
        "Hi {name}! 👋 You can read what we wrote before you joined because my client shared the "
        "room keys with you when I invited you. The 🔑 beside a message says who vouched for it.",
        "Dave's message is the one you cannot read: his client never marks its keys as shareable, "
        "so I could not pass them on. Select it to see the reason.",
        "Try inviting Charlie (ctrl+p, then Invite Charlie). Your client passes on the keys you got "
        "from me, and the note on Dave's message too.",
        "🚀 Launch checklist looks good to me.",
    ),
    "charlie": (
        "Welcome, {name}! 👋 Bob's client passed on the keys I had shared with him, so you can read "
        "what we wrote before you joined: that is what 🔑 shared by Bob means.",
        "Dave's message stays unreadable for you too: its keys were never shareable, and Bob's "
        "client told yours why.",
        "🚀 Launch checklist looks good to me.",
    ),
}
OTHERS = (
    "Hi {name}! 👋 This room's history is shared with people we invite, key by key.",
    "🚀 Launch checklist looks good to me.",
)


def reply_for(user_id: str, name: str, turn: int) -> str:
    """Alice's `turn`-th answer (from 0) to `user_id`."""
    localpart = user_id.split(":", 1)[0].lstrip("@")
    lines = REPLIES.get(localpart, OTHERS)
    return lines[min(turn, len(lines) - 1)].format(name=name)


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
    watchdog = asyncio.create_task(_exit_with_parent(asyncio.current_task()))
    try:
        while True:
            item = await queue.get()
            await asyncio.sleep(reply_delay)
            turn = turns.get(item.sender, 0)
            turns[item.sender] = turn + 1
            text = reply_for(item.sender, item.sender_name, turn)
            try:
                await alice.send_text(item.room_id, text)
            except Exception:
                logger.exception("alice could not answer")
    finally:
        watchdog.cancel()
        await alice.close()


async def _exit_with_parent(task: asyncio.Task | None, interval: float = 1.0) -> None:
    """The launcher stops the bot when it quits; if the launcher is killed instead, the bot
    notices it was orphaned and stops too (releasing Alice's profile for the next demo)."""
    parent = os.getppid()
    while True:
        await asyncio.sleep(interval)
        if os.getppid() != parent:
            logger.info("the demo that started alice is gone; stopping")
            if task is not None:
                task.cancel()
            return


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tui_client.demo.bot")
    parser.add_argument("base", type=Path)
    args = parser.parse_args()
    setup_logging("INFO", to_file=False)
    handler = logging.FileHandler(args.base / "bot.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
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
