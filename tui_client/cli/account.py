"""Commands about the account and its keys: login, logout, whoami, devices, verify,
setup-recovery, reset-identity."""

from __future__ import annotations

import argparse
import asyncio
import logging
from dataclasses import asdict
from typing import Any

from .. import paths
from .common import CliError, read_secret, remove_unused_profile, with_engine
from .output import err, id_text, name_text, out, print_json

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
                mark = "✔ cross-signed by owner" if d.cross_signed_by_owner else "✘ not cross-signed"
                out(f"  {id_text(d.device_id):14} {mark}  {name_text(d.display_name)}")
        return 0

    return await with_engine(args, body)


async def cmd_verify(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        secret = read_secret(args, "recovery_key_value", "stdin", "Recovery key or passphrase: ")
        trust = await engine.verify_with_recovery_key(secret)
        out(f"this device is {'now verified by your identity' if trust.device_verified else 'still not verified'}")
        return 0 if trust.device_verified else 1

    args.recovery_key_value = None
    return await with_engine(args, body)


async def cmd_setup_recovery(args: argparse.Namespace) -> int:
    async def body(engine: Any) -> int:
        key = await engine.setup_recovery()
        out("Your recovery key (it verifies your other devices; keep it somewhere safe, it is shown once):")
        out(f"\n    {key}\n")
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
