"""The command line's emoji verification against matrix-js-sdk 43 + Rust crypto, as a QA
script would run it: `verify-user USER --yes`, `verifications accept --yes`, answering "n" to
"Do they match?", and `devices USER --json` with its `verified` field."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.interop, pytest.mark.integration]


def run(env: dict, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "tui_client", *args], env=env, input=input,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"tui-client {' '.join(args)} failed ({proc.returncode}): {proc.stderr}"
    return proc


async def start(env: dict, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tui_client", *args, env=env, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )


def login(env: dict, homeserver, user_id: str, password: str) -> None:
    run(env, "--profile", "q", "login", "--homeserver", homeserver.url, "--user", user_id, "--password-stdin",
        input=password + "\n")


async def test_verify_user_with_element_from_the_command_line(homeserver, make_user, cli_env, js_peer_factory):
    me = make_user("qa")
    login(cli_env, homeserver, me.user_id, me.password)
    js = await js_peer_factory("element", cross_signing=True)
    room_id = await js.create_room("DM", invite=[me.user_id])
    run(cli_env, "--profile", "q", "sync", "--seconds", "1")
    run(cli_env, "--profile", "q", "join", room_id)
    await js.wait_for_membership(room_id, me.user_id, "join")

    proc = await start(cli_env, "--profile", "q", "verify-user", js.user_id, "--yes", "--timeout", "90")
    try:
        request = await js.wait_for_verification_request(sender=me.user_id, timeout_ms=60000)
        assert request["roomId"] == room_id
        await js.accept_verification(request["flowId"])
        sas = await js.wait_for_sas(request["flowId"])
        await js.confirm_sas(request["flowId"])
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 90)
    finally:
        if proc.returncode is None:
            proc.kill()
    text = stdout.decode()
    assert proc.returncode == 0, stderr.decode()
    assert "  ".join(symbol for symbol, _ in sas["emoji"]).replace("  ", "") in text.replace(" ", "")
    assert f"verified: {js.user_id} is now verified" in text
    assert (await js.user_identity(me.user_id))["crossSigningVerified"]

    devices = json.loads(run(cli_env, "--profile", "q", "devices", js.user_id, "--json").stdout)
    assert devices["identity"] == "verified"
    assert [d["verified"] for d in devices["devices"] if d["device_id"] == js.device_id] == [True]


async def test_answering_no_cancels_with_mismatched_sas(homeserver, make_user, cli_env, js_peer_factory):
    me = make_user("qa")
    login(cli_env, homeserver, me.user_id, me.password)
    js = await js_peer_factory("element", cross_signing=True)
    room_id = await js.create_room("DM", invite=[me.user_id])
    run(cli_env, "--profile", "q", "sync", "--seconds", "1")
    run(cli_env, "--profile", "q", "join", room_id)
    await js.wait_for_membership(room_id, me.user_id, "join")

    proc = await start(cli_env, "--profile", "q", "verify-user", js.user_id, "--timeout", "90")
    try:
        request = await js.wait_for_verification_request(sender=me.user_id, timeout_ms=60000)
        await js.accept_verification(request["flowId"])
        await js.wait_for_sas(request["flowId"])
        stdout, stderr = await asyncio.wait_for(proc.communicate(b"n\n"), 90)
    finally:
        if proc.returncode is None:
            proc.kill()
    assert proc.returncode == 1
    assert "Do they match? [y/N]" in stdout.decode()
    assert stderr.decode().strip().splitlines()[-1].startswith("error: you said the emoji differ")
    status = await js.verification_status(request["flowId"], wait_for="cancelled")
    assert status["cancellationCode"] == "m.mismatched_sas"
    assert not (await js.user_identity(me.user_id))["crossSigningVerified"]
    devices = json.loads(run(cli_env, "--profile", "q", "devices", js.user_id, "--json").stdout)
    assert devices["identity"] == "pinned" and not any(d["verified"] for d in devices["devices"])


async def test_verifications_accept_lets_element_verify_our_new_device(homeserver, cli_env, js_peer_factory):
    js = await js_peer_factory("element", cross_signing=True)
    login(cli_env, homeserver, js.user_id, js.password)
    whoami = json.loads(run(cli_env, "--profile", "q", "whoami", "--json").stdout)
    assert not whoami["extra"]["device_verified_by_identity"]
    await js.device_info(js.user_id, whoami["device_id"])

    proc = await start(cli_env, "--profile", "q", "verifications", "accept", "--yes", "--timeout", "90")
    try:
        await asyncio.sleep(2)  # the command is waiting for a request
        flow_id = await js.request_verification(js.user_id)
        await js.start_sas(flow_id)
        await js.wait_for_sas(flow_id)
        await js.confirm_sas(flow_id)
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 90)
    finally:
        if proc.returncode is None:
            proc.kill()
    assert proc.returncode == 0, stderr.decode()
    text = stdout.decode()
    assert "your device" in text and "asks to compare emoji (to-device); accepting" in text
    assert "verified:" in text and "received your identity's keys" in text
    run(cli_env, "--profile", "q", "sync", "--seconds", "3")
    whoami = json.loads(run(cli_env, "--profile", "q", "whoami", "--json").stdout)
    assert whoami["extra"]["device_verified_by_identity"] and whoami["extra"]["can_sign"], whoami
    assert (await js.device_info(js.user_id, whoami["device_id"]))["crossSigningVerified"]
