"""Commands about the account and its keys: login, logout, whoami, devices, verify,
setup-recovery, reset-identity, backup."""

from __future__ import annotations

import argparse
import asyncio
import logging
from dataclasses import asdict
from typing import Any

from .. import paths
from ..engine.errors import EngineError
from .common import CliError, read_secret, remove_unused_profile, resolve_room, with_engine
from .output import err, id_text, name_text, out, plural, print_json

logger = logging.getLogger("tui_client.cli")


async def cmd_login(args: argparse.Namespace) -> int:
    from ..engine.engine import Engine
    from ..engine.server_url import (
        DiscoveryError,
        discover_homeserver,
        homeserver_url,
        server_name,
    )

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
    password = read_secret(args, "password", "password_stdin", "Password: ")
    directory = paths.profile_dir(args.profile)
    existed = directory.exists()
    engine = Engine(args.profile, settings=args.settings)
    logged_in = False
    try:
        info = await engine.login(homeserver, args.user, password)
        logged_in = True
        await engine.sync_once()
        out(f"logged in as {id_text(info.user_id)} (device {id_text(info.device_id)}) on profile {args.profile!r}")
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
    return await with_engine(args, body, sync=False, broken_store_ok=True)


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
            print_json(data)
        else:
            for key, value in data.items():
                if key != "extra":
                    out(f"{key}: {name_text(value)}")
            for key, value in data["extra"].items():
                out(f"{key}: {name_text(value)}")
        return 0

    return await with_engine(args, body)


async def cmd_devices(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        user = args.user or engine.user_id
        await engine.refresh_keys(user)
        info = engine.identity_info(user)
        devices = engine.devices(user)
        if args.json:
            print_json(
                {
                    "user_id": user,
                    "identity": info.state,
                    "master_key": info.master_key,
                    "previous_master_key": info.previous_master_key,
                    "devices": [asdict(d) for d in devices],
                }
            )
        else:
            out(f"{id_text(user)}: identity {name_text(info.state)}"
                + (f" (master key {id_text(info.master_key)})" if info.master_key else ""))
            for d in devices:
                if d.verified:
                    mark = "✔ verified"
                elif d.cross_signed_by_owner:
                    mark = "✔ cross-signed by owner (owner not verified by you)"
                else:
                    mark = "✘ not cross-signed"
                out(f"  {id_text(d.device_id):14} {mark}  {name_text(d.display_name)}")
        return 0

    return await with_engine(args, body)


async def cmd_verify(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        secret = read_secret(args, "recovery_key_value", "stdin", "Recovery key or passphrase: ")
        trust = await engine.verify_with_recovery_key(secret)
        out(f"this device is {'now verified by your identity' if trust.device_verified else 'still not verified'}")
        status = engine.backup_status()
        if status.restore is not None and not status.restore.finished:
            # A command-line run cannot leave the restore to the background: wait for it.
            err(f"restoring keys from the key backup (version {id_text(status.version)})…")
            try:
                result = await engine.restore_backup()
                out(f"key backup: restored {plural(result.imported, 'room key')} of {result.total}"
                    + (f" ({result.failed} refused; see the log)" if result.failed else ""))
            except EngineError as exc:
                err(f"warning: {name_text(str(exc))}")
        else:
            out(f"key backup: {name_text(status.detail)}")
        return 0 if trust.device_verified else 1

    args.recovery_key_value = None
    return await with_engine(args, body)


async def cmd_setup_recovery(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        key = await engine.setup_recovery()
        out("Your recovery key (it verifies your other devices and restores your key backup; keep it "
            "somewhere safe, it is shown once):")
        out(f"\n    {key}\n")
        out(f"key backup: {name_text(engine.backup_status().detail)}")
        return 0

    return await with_engine(args, body)


async def cmd_reset_identity(args: argparse.Namespace) -> int:
    if not args.yes:
        raise CliError(
            "resetting your identity makes every device and contact distrust your old one; "
            "people who verified you will see a warning. Re-run with --yes if you mean it"
        )

    async def body(engine: Any) -> int:
        password = read_secret(args, "password", "password_stdin", "Account password: ")
        trust = await engine.reset_identity(password)
        out(f"new identity published (master key {id_text(trust.master_key)}); this device is verified by it")
        return 0

    return await with_engine(args, body)


def backup_json(status: Any) -> dict[str, Any]:
    restore = status.restore
    return {
        "version": status.version,
        "algorithm": status.algorithm,
        "keys_on_server": status.keys_on_server,
        "keys_restored": status.keys_restored,
        "uploading": status.uploading,
        "state": status.state.value,
        "detail": status.detail,
        "restore": asdict(restore) if restore is not None else None,
    }


async def cmd_backup(args: argparse.Namespace) -> int:
    async def status(engine: Any) -> int:
        await engine.flush()  # what this run received goes up first, so the count is current
        current = await engine.refresh_backup()
        if args.json:
            print_json(backup_json(current))
        else:
            out(f"key backup: {name_text(current.state.value)}: {name_text(current.detail)}")
            if current.version is not None:
                out(f"  version {id_text(current.version)} ({name_text(current.algorithm)}), "
                    f"{current.keys_on_server if current.keys_on_server is not None else '?'} keys on the server")
            out(f"  {plural(current.keys_restored, 'key')} here restored from it; {current.uploading} waiting to go up")
        return 0

    async def restore(engine: Any) -> int:
        room_id = await resolve_room(engine, args.room) if args.room else None
        result = await engine.restore_backup(room_id)
        if args.json:
            print_json(asdict(result))
        else:
            where = f" for {id_text(room_id)}" if room_id else ""
            out(f"restored {plural(result.imported, 'room key')}{where} from the key backup "
                f"({result.total} on the server, {result.unchanged} already known, {result.failed} refused)")
        return 0

    return await with_engine(args, status if args.backup_command == "status" else restore)
