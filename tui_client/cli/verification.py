"""Emoji verification from the command line: `verify-user USER` asks someone (or, with your own
user id, your other devices), `verifications accept` waits for the next request and completes it,
`verifications list` shows them. Both print the emoji and ask whether they match (`--yes`
confirms without asking, for scripted QA); the exit code is 0 once verified, 1 otherwise."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from .common import CliError, with_engine
from .output import err, id_text, name_text, out, print_json


def verification_json(info: Any) -> dict[str, Any]:
    data = asdict(info)
    data["phase"] = info.phase.value
    return data


async def _ask(prompt: str) -> str:
    """One line from the terminal (or stdin), without stopping the engine's sync loop."""
    out(prompt, end="")
    line = await asyncio.to_thread(sys.stdin.readline)
    return line.strip().lower()


async def _wait_for_keys(engine: Any, timeout: float) -> None:
    """After another device of ours verified this one: its answer to our request for our
    identity's keys is usually a second away; wait for it before exiting."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if engine.own_trust().have_private_keys:
            out("received your identity's keys: this device can now verify others and your other devices")
            return
        await asyncio.sleep(0.5)
    err("your identity's keys have not arrived yet; they are taken when they do (e.g. `tui-client sync`)")


async def _complete(engine: Any, flow_id: str, args: argparse.Namespace, changed: asyncio.Event,
                    deadline: float) -> int:
    """Follow one verification to its end: show the emoji, confirm (or ask), report the result."""
    from ..engine.models import VerificationPhase

    loop = asyncio.get_running_loop()
    shown = False
    while True:
        info = next((i for i in engine.verifications() if i.flow_id == flow_id), None)
        if info is None:
            raise CliError("the verification disappeared")
        if info.phase is VerificationPhase.DONE and info.result:
            out(f"verified: {name_text(info.result)}")
            if info.own_devices and not engine.own_trust().have_private_keys and "asked" in info.result:
                await _wait_for_keys(engine, min(20.0, max(0.0, deadline - loop.time())))
            return 0
        if info.phase is VerificationPhase.CANCELLED:
            by = "you" if info.cancelled_by_us else "the other side"
            raise CliError(f"the verification was cancelled by {by}: {info.cancel_reason} ({info.cancel_code})")
        if info.phase is VerificationPhase.EMOJI and not shown:
            shown = True
            out(f"Compare these emoji with {name_text(info.who)}; they must see the same, in the same order:")
            out("  " + "   ".join(symbol for symbol, _ in info.emoji))
            out("  " + "   ".join(name_text(name) for _, name in info.emoji))
            if info.decimals:
                out("  (or the numbers: " + " ".join(str(n) for n in info.decimals) + ")")
            if args.yes:
                out("they match (--yes)")
                await engine.confirm_verification(flow_id)
            else:
                answer = await _ask("Do they match? [y/N] ")
                if answer in ("y", "yes"):
                    await engine.confirm_verification(flow_id)
                    out("waiting for the other side to confirm…")
                else:
                    await engine.mismatch_verification(flow_id)
                    raise CliError("you said the emoji differ: the verification was cancelled and nothing was verified")
        remaining = deadline - loop.time()
        if remaining <= 0:
            await engine.cancel_verification(flow_id)
            raise CliError(f"the verification did not finish within {args.timeout:g} s; it was cancelled")
        changed.clear()
        try:
            await asyncio.wait_for(changed.wait(), min(remaining, 1.0))
        except asyncio.TimeoutError:
            pass


def _events(engine: Any) -> tuple[asyncio.Event, Callable[[], None]]:
    from ..engine.events import VerificationChanged

    changed = asyncio.Event()

    def listener(event: Any) -> None:
        if isinstance(event, VerificationChanged):
            changed.set()

    return changed, engine.subscribe(listener)


async def cmd_verify_user(args: argparse.Namespace) -> int:
    from ..ui.slash_commands import USER_ID

    if not USER_ID.match(args.user):
        raise CliError(f"{args.user!r} is not a user id; use the full form @name:server")

    async def body(engine: Any) -> int:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + args.timeout
        changed, unsubscribe = _events(engine)
        engine.start_sync()
        try:
            if args.user != engine.user_id:
                err(f"asking {id_text(args.user)} in your direct chat (it is created, and they are invited, if needed)…")
            info = await engine.request_verification(args.user, device_id=args.device, timeout=args.timeout)
            err(f"waiting for {name_text(info.who)} to accept…")
            return await _complete(engine, info.flow_id, args, changed, deadline)
        finally:
            unsubscribe()
            await engine.stop_sync()

    return await with_engine(args, body)


async def cmd_verifications(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        if args.action == "list":
            infos = engine.verifications()
            if args.json:
                print_json([verification_json(i) for i in infos])
            for i in infos if not args.json else []:
                way = "asked by you" if i.we_requested else "asked by them"
                out(f"{id_text(i.flow_id)}  {name_text(i.who)}  {i.phase.value} ({way})")
            return 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + args.timeout
        changed, unsubscribe = _events(engine)
        engine.start_sync()
        try:
            err("waiting for a verification request…")
            while True:
                waiting = [i for i in engine.verifications() if i.incoming and i.phase.value == "requested"]
                if waiting:
                    break
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise CliError(f"no verification request came within {args.timeout:g} s")
                changed.clear()
                try:
                    await asyncio.wait_for(changed.wait(), min(remaining, 1.0))
                except asyncio.TimeoutError:
                    pass
            info = waiting[0]
            where = "to-device" if info.room_id is None else f"in {id_text(info.room_id)}"
            out(f"{name_text(info.who)} asks to compare emoji ({where}); accepting")
            await engine.accept_verification(info.flow_id)
            return await _complete(engine, info.flow_id, args, changed, deadline)
        finally:
            unsubscribe()
            await engine.stop_sync()

    return await with_engine(args, body, sync=args.action != "list")


def add_parsers(add: Callable[..., argparse.ArgumentParser]) -> None:
    p = add("verify-user", cmd_verify_user,
            "compare emoji with someone (in your direct chat) or with your other devices (your own user id); "
            "exit 0 once verified")
    p.add_argument("user", help="their user id, or yours to verify your other devices")
    p.add_argument("--device", help="only this device of yours (with your own user id)")
    p.add_argument("--yes", action="store_true", help="confirm that the emoji match without asking (scripted QA)")
    p.add_argument("--timeout", type=float, default=180.0, metavar="SECONDS", help="give up after this long")

    p = add("verifications", cmd_verifications,
            "list emoji verifications, or wait for the next request and complete it ('accept')")
    p.add_argument("action", nargs="?", choices=["list", "accept"], default="list")
    p.add_argument("--yes", action="store_true", help="with accept: confirm that the emoji match without asking")
    p.add_argument("--timeout", type=float, default=180.0, metavar="SECONDS", help="with accept: give up after this long")
    p.add_argument("--json", action="store_true", help="with list")
