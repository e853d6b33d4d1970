"""Files and images against a real Synapse: upload encrypted (in an encrypted room) and plain,
download through authenticated media with the hash checked, images with their size and a
thumbnail, names made safe, the size cap, a tampered file refused, the CLI's upload/download."""

from __future__ import annotations

import asyncio
import io
import json
import os
import stat

import pytest
from PIL import Image

from tests.helpers import raw_request, send_raw_event
from tests.integration.test_cli import run
from tui_client.config import Settings
from tui_client.engine.crypto.attachments import encrypt_attachment
from tui_client.engine.engine import Engine, EngineError
from tui_client.engine.events import TransferProgress

pytestmark = pytest.mark.integration


async def _room_with(alice: Engine, bob: Engine, *, encrypted: bool = True) -> str:
    room_id = await alice.create_room("Files", history_visibility="shared", encrypted=encrypted)
    await alice.invite(room_id, bob.user_id)
    assert await bob.wait_until(lambda: any(i.room_id == room_id for i in bob.invites()))
    await bob.join(room_id)
    assert await alice.wait_until(
        lambda: bob.user_id in {m.user_id for m in alice.room(room_id).members if m.membership == "join"})
    return room_id


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


async def _content(engine: Engine, room_id: str, event_id: str) -> dict:
    """The content as sent (decrypted when it was encrypted)."""
    assert await engine.wait_until(lambda: engine.event_details(room_id, event_id) is not None)
    details = engine.event_details(room_id, event_id)
    if details.decrypted_json is not None:
        return details.decrypted_json["content"]
    client = engine.client
    event = await asyncio.to_thread(raw_request, client.homeserver, client.access_token, "GET",
                                    f"/_matrix/client/v3/rooms/{room_id}/event/{event_id}")
    assert event["type"] == "m.room.message"  # really sent in the clear
    return event["content"]


@pytest.mark.parametrize("encrypted", [True, False], ids=["encrypted", "plain"])
async def test_a_file_goes_up_and_comes_down_identical(engines, tmp_path, encrypted):
    alice = await engines("alice")
    bob = await engines("bob", settings=Settings(downloads_dir=str(tmp_path / "downloads")))
    room_id = await _room_with(alice, bob, encrypted=encrypted)
    data = os.urandom(700_000)  # several chunks, so progress moves
    path = tmp_path / "report.pdf"
    path.write_bytes(data)
    progress: list[TransferProgress] = []
    alice.subscribe(lambda e: progress.append(e) if isinstance(e, TransferProgress) else None)

    event_id = await alice.send_file(room_id, path, transfer_id="t1")
    assert progress and progress[-1].done == progress[-1].total and progress[-1].upload
    assert {p.transfer_id for p in progress} == {"t1"}

    content = await _content(alice, room_id, event_id)
    assert content["msgtype"] == "m.file" and content["body"] == "report.pdf"
    assert content["info"] == {"mimetype": "application/pdf", "size": len(data)}
    assert ("file" in content) is encrypted and ("url" in content) is not encrypted

    assert await bob.wait_until(lambda: any(i.event_id == event_id for i in bob.timeline(room_id)))
    saved = await bob.save_attachment(room_id, event_id)
    assert saved == tmp_path / "downloads" / "report.pdf" and saved.read_bytes() == data
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    again = await bob.save_attachment(room_id, event_id)
    assert again == tmp_path / "downloads" / "report (2).pdf"  # nothing is overwritten
    assert await bob.attachment_bytes(room_id, event_id) == data


async def test_an_image_has_its_size_and_a_thumbnail(engines, tmp_path):
    alice = await engines("alice")
    bob = await engines("bob")
    room_id = await _room_with(alice, bob)
    small, large = tmp_path / "small.png", tmp_path / "large.png"
    small.write_bytes(png(40, 30))
    large.write_bytes(png(1600, 1200))

    small_id = await alice.send_file(room_id, small)
    content = await _content(alice, room_id, small_id)
    assert content["msgtype"] == "m.image"
    assert (content["info"]["w"], content["info"]["h"], content["info"]["mimetype"]) == (40, 30, "image/png")
    assert "thumbnail_file" not in content["info"]

    large_id = await alice.send_file(room_id, large)
    content = await _content(alice, room_id, large_id)
    info = content["info"]
    assert (info["w"], info["h"]) == (1600, 1200)
    assert info["thumbnail_info"]["w"] == 800 and info["thumbnail_info"]["h"] == 600
    assert info["thumbnail_file"]["url"].startswith("mxc://")  # encrypted room: an encrypted thumbnail

    assert await bob.wait_until(lambda: any(i.event_id == large_id for i in bob.timeline(room_id)))
    thumb = await bob.attachment_bytes(room_id, large_id, thumbnail=True)
    with Image.open(io.BytesIO(thumb)) as image:
        assert image.size == (800, 600)
    assert await bob.attachment_bytes(room_id, large_id) == large.read_bytes()


async def test_hostile_files_are_refused_with_a_reason(engines, tmp_path):
    alice = await engines("alice")
    bob = await engines("bob", settings=Settings(downloads_dir=str(tmp_path / "dl"), download_max_bytes=10_000))
    room_id = await _room_with(alice, bob, encrypted=False)
    client = alice.client

    # A file whose ciphertext does not match the hash in the message.
    ciphertext, info = encrypt_attachment(b"the real thing")
    tampered = bytearray(ciphertext)
    tampered[0] ^= 1
    url = await client.upload_bytes(bytes(tampered))
    bad_hash = await send_raw_event(alice, room_id, "m.room.message", {
        "msgtype": "m.file", "body": "x.bin", "file": {**info, "url": url}})
    # A name that tries to leave the downloads directory, with control characters.
    url2 = await client.upload_bytes(b"innocent")
    escape = await send_raw_event(alice, room_id, "m.room.message", {
        "msgtype": "m.file", "body": "../../.bashrc\x1b[31m", "url": url2})
    # Too big, as the message says and as the server sends.
    big = await client.upload_bytes(os.urandom(20_000))
    too_big = await send_raw_event(alice, room_id, "m.room.message", {
        "msgtype": "m.file", "body": "big.bin", "url": big, "info": {"size": 20_000}})
    lying = await send_raw_event(alice, room_id, "m.room.message", {
        "msgtype": "m.file", "body": "big.bin", "url": big, "info": {"size": 5}})
    # No file at all, and a URL that is not mxc.
    nothing = await send_raw_event(alice, room_id, "m.room.message", {"msgtype": "m.file", "body": "x"})
    http = await send_raw_event(alice, room_id, "m.room.message", {
        "msgtype": "m.image", "body": "x", "url": "https://evil.example/x"})
    text = await send_raw_event(alice, room_id, "m.room.message", {"msgtype": "m.text", "body": "hi"})
    assert await bob.wait_until(lambda: any(i.event_id == text for i in bob.timeline(room_id)))

    with pytest.raises(EngineError, match="does not match its SHA-256"):
        await bob.save_attachment(room_id, bad_hash)
    saved = await bob.save_attachment(room_id, escape)
    # Saved inside the downloads directory, not hidden, the escape character gone.
    assert saved.parent == tmp_path / "dl" and saved.name == "_.._.bashrc[31m" and saved.read_bytes() == b"innocent"
    with pytest.raises(EngineError, match="limited to 10,000"):
        await bob.save_attachment(room_id, too_big)
    with pytest.raises(EngineError, match="too large"):
        await bob.save_attachment(room_id, lying)
    with pytest.raises(EngineError, match="names no file"):
        await bob.save_attachment(room_id, nothing)
    with pytest.raises(EngineError, match="mxc"):
        await bob.save_attachment(room_id, http)
    with pytest.raises(EngineError, match="has no file"):
        await bob.save_attachment(room_id, text)
    assert sorted(p.name for p in (tmp_path / "dl").iterdir()) == ["_.._.bashrc[31m"]


async def test_an_upload_can_be_cancelled(engines, tmp_path):
    alice = await engines("alice")
    bob = await engines("bob")
    room_id = await _room_with(alice, bob)
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(30_000_000))

    cancelled = asyncio.Event()

    def on_event(event) -> None:
        if isinstance(event, TransferProgress) and event.done > 0 and not cancelled.is_set():
            cancelled.set()
            assert alice.cancel_transfer("big")

    alice.subscribe(on_event)
    with pytest.raises(EngineError, match="cancelled"):
        await alice.send_file(room_id, path, transfer_id="big")
    assert cancelled.is_set()
    await alice.sync_once()
    assert not any(i.body == "big.bin" for i in alice.timeline(room_id))


def test_cli_upload_and_download(homeserver, make_user, cli_env, tmp_path):
    alice, bob = make_user("alice"), make_user("bob")
    for user, profile in ((alice, "a"), (bob, "b")):
        run(cli_env, "--profile", profile, "login", "--homeserver", homeserver.url, "--user", user.localpart,
            "--password-stdin", input=user.password + "\n")
    room_id = run(cli_env, "--profile", "a", "create-room", "Files").stdout.strip()
    run(cli_env, "--profile", "a", "invite", room_id, bob.user_id)
    run(cli_env, "--profile", "b", "join", room_id)
    picture = tmp_path / "red.png"
    picture.write_bytes(png(64, 48))
    event_id = run(cli_env, "--profile", "a", "upload", "Files", str(picture)).stdout.strip()
    assert event_id.startswith("$")

    target = tmp_path / "copy.png"
    assert run(cli_env, "--profile", "b", "download", room_id, event_id, str(target)).stdout.strip() == str(target)
    assert target.read_bytes() == picture.read_bytes()
    folder = tmp_path / "into"
    folder.mkdir()
    assert run(cli_env, "--profile", "b", "download", room_id, event_id, str(folder)).stdout.strip() == str(folder / "red.png")

    missing = run(cli_env, "--profile", "a", "upload", "Files", str(tmp_path / "nope"), check=False)
    assert missing.returncode == 1 and "is not a file" in missing.stderr
    history = json.loads(run(cli_env, "--profile", "b", "history", room_id, "--json").stdout)
    assert any(h["event_id"] == event_id for h in history)
