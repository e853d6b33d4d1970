"""Alice, the demo's friendly bot: she answers when someone writes in the demo room.

Runs in its own process (`python -m tui_client.demo.bot DEMO_DIR`) so that nothing it does, not
even a crash, can take the TUI down. Logs to DEMO_DIR/bot.log.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import time
from pathlib import Path

from ..engine.events import EngineEvent, TimelineItemsAdded
from ..logs import setup_logging
from .story import Demo

logger = logging.getLogger("tui_client.demo.bot")

REPLIES = (
    "Hi {name}! 👋 You can read what we wrote before you joined because my client shared the "
    "room keys with you when I invited you. The 🔑 beside a message says who vouched for it.",
    "Dave's message is the one you cannot read: his client never marks its keys as shareable, "
    "so I could not pass them on. Select it to see the reason.",
    "Try inviting Charlie (ctrl+p, then Invite). Your client passes on the keys you got from me, "
    "and the withheld note for Dave's message too.",
    "🚀 Launch checklist looks good to me.",
)


async def run(base: Path, reply_delay: float = 0.8) -> None:
    demo = Demo(base, progress=logger.info)
    alice = await demo.engine("alice")
    started_ms = time.time() * 1000
    queue: asyncio.Queue = asyncio.Queue()
    count = 0

    def on_event(event: EngineEvent) -> None:
        if isinstance(event, TimelineItemsAdded) and not event.at_start:
            for item in event.items:
                if item.is_message and not item.own and item.timestamp >= started_ms:
                    queue.put_nowait(item)

    alice.subscribe(on_event)
    alice.start_sync()
    logger.info("alice is listening")
    try:
        while True:
            item = await queue.get()
            await asyncio.sleep(reply_delay)
            text = REPLIES[count % len(REPLIES)].format(name=item.sender_name)
            count += 1
            try:
                await alice.send_text(item.room_id, text)
            except Exception:
                logger.exception("alice could not answer")
    finally:
        await alice.close()


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
