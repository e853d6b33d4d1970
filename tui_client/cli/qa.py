"""Commands for QA: key files, the crypto inspector, doctor."""

from __future__ import annotations

import argparse
import logging
from dataclasses import asdict
from typing import Any

from .common import read_passphrase, resolve_room, with_engine
from .output import id_text, name_text, out, plural, print_json

logger = logging.getLogger("tui_client.cli")


async def cmd_export_keys(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        room_id = await resolve_room(engine, args.room) if args.room else None
        passphrase = read_passphrase(args, "Passphrase to protect the file: ", confirm=True)
        count = await engine.export_keys(args.file, passphrase, room_id)
        out(f"exported {plural(count, 'room key')} to {args.file}")
        return 0

    return await with_engine(args, body, sync=False)


async def cmd_import_keys(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        passphrase = read_passphrase(args, "Passphrase of the file: ")
        imported, known, skipped = await engine.import_keys(args.file, passphrase)
        out(f"imported {plural(imported, 'room key')}; {known} already known; {skipped} skipped")
        return 0

    return await with_engine(args, body, sync=False)


async def cmd_inspect(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        room_id = await resolve_room(engine, args.room, invited_ok=True)
        report = engine.inspect_room(room_id)
        if args.json:
            print_json(asdict(report))
        else:
            out(f"{name_text(report.name)} ({id_text(room_id)}); history: {name_text(report.history_visibility)}")
            for sess in report.sessions:
                flag = "shareable" if sess.shareable else "not shareable"
                creator = f"{id_text(sess.creator_user or '?')} {id_text(sess.creator_device or '')}".strip()
                out(f"  session {id_text(sess.session_id[:12])}… from {creator}, index {sess.first_known_index}, "
                    f"{flag}; {name_text(sess.origin_detail)}")
            for w in report.withheld:
                out(f"  withheld {id_text(w.session_id[:12])}…: {name_text(w.code)} ({name_text(w.reason or 'no reason')}) "
                    f"via {name_text(w.via)} from {id_text(w.from_user)}")
            for b in report.bundles:
                out(f"  bundle from {id_text(b.sender)}: {name_text(b.state)} ({name_text(b.detail or '')}) "
                    f"keys={b.key_count} imported={b.imported_count}")
            for m in report.members:
                devices = ", ".join(f"{id_text(d.device_id)}{'✔' if d.cross_signed_by_owner else '✘'}" for d in m.devices)
                out(f"  member {id_text(m.user_id)}: identity {name_text(m.identity)}; devices {devices}")
        return 0

    return await with_engine(args, body)


async def cmd_doctor(args: argparse.Namespace) -> int:
    from ..engine.engine import Engine
    from ..engine.errors import ProfileLockedError, SessionFileError

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
    from ..ui.keymap import keymap_problems

    report["config_problems"] = list(args.config_problems) + keymap_problems(args.settings.keys)
    report["problems"] = problems + report.get("problems", [])
    if args.json:
        print_json(report)
        return 0
    def show(title: str, mapping: dict[str, Any]) -> None:
        out(f"{title}:")
        for key, value in mapping.items():
            out(f"  {key:22} {name_text(value)}")
    show("versions", report["versions"])
    show("paths", report["paths"])
    out(f"profile: {report['profile']} ({'logged in' if report['logged_in'] else 'not logged in'})")
    for key in ("account", "homeserver", "cross_signing", "key_backup", "sync"):
        if key in report:
            show(key, report[key])
    store = report.get("store")
    if store and not store["usable"]:
        out(f"store: {store['path']} NOT USABLE (see the problem below)")
    elif store:
        out(f"store: {store['path']} ({store['size_bytes'] / 1e6:.1f} MB, integrity {name_text(store['integrity'])}, "
            f"{store['sessions_total']} Megolm sessions)")
        out(f"  account ed25519 {id_text(store['account_ed25519'])}")
        for room_id, count in sorted(store["sessions_by_room"].items()):
            out(f"  {id_text(room_id)}: {plural(count, 'session')}")
    keys = report.get("device_keys")
    if keys and keys.get("checked"):
        verdict = {True: "match this store's account", False: "DO NOT match this store's account",
                   None: "(no account to compare with)"}[keys.get("matches")]
        out(f"device keys on the server: ed25519 {id_text(keys['server_ed25519'] or 'none')} {verdict}")
    elif keys:
        out(f"device keys on the server: not checked ({name_text(keys.get('error'))})")
    for p in report.get("pending_bundles", []):
        out(f"pending key bundle: {id_text(p['room_id'])} from {id_text(p['inviter'])}")
    for problem in report["problems"] + report["config_problems"]:
        out(f"problem: {name_text(problem)}")
    return 0
