"""Everyday features against matrix-js-sdk 43 + Rust crypto (what Element Web runs): direct chats
through m.direct both ways, a mention from Element in an encrypted room (highlighted by our own
push-rule evaluation; the TUI rings the bell), typing and read receipts both ways."""

from __future__ import annotations

import pytest

from tui_client.engine.engine import Engine
from tui_client.engine.events import Notification

pytestmark = [pytest.mark.interop, pytest.mark.integration]


async def _shared_room(js, ours: Engine) -> str:
    room_id = await js.create_room("Everyday", history_visibility="shared")
    await js.invite(room_id, ours.user_id, share_history=False)
    assert await ours.wait_until(lambda: any(i.room_id == room_id for i in ours.invites()))
    await ours.join(room_id)
    await js.wait_for_membership(room_id, ours.user_id)
    return room_id


async def test_a_dm_created_by_element_is_a_dm_here(engines, js_peer_factory):
    js = await js_peer_factory("element")
    ours = await engines("tui")
    room_id = await js.create_dm(ours.user_id)

    assert await ours.wait_until(lambda: any(i.room_id == room_id for i in ours.invites()))
    invite = next(i for i in ours.invites() if i.room_id == room_id)
    assert invite.is_direct and invite.inviter == js.user_id
    await ours.join(room_id)
    summary = ours.room(room_id)
    assert summary.is_direct and summary.dm_user == js.user_id and summary.encrypted
    # Our `dm` finds it rather than creating another room.
    assert await ours.open_dm(js.user_id) == room_id

    await js.send(room_id, "hello from Element")
    assert await ours.wait_until(
        lambda: any(i.body == "hello from Element" and i.decrypted for i in ours.timeline(room_id)))


async def test_a_dm_created_here_is_a_dm_in_element(engines, js_peer_factory):
    js = await js_peer_factory("element")
    ours = await engines("tui")
    room_id = await ours.open_dm(js.user_id)

    # The invite Element receives says it is a direct chat with us (is_direct); Element lists the
    # room in its m.direct when it joins, as the app does.
    assert await js.dm_inviter(room_id) == ours.user_id
    await js.join(room_id)
    await js.mark_direct(room_id, ours.user_id)
    direct = await js.direct_rooms(wait_for_room=room_id)
    assert direct[ours.user_id] == [room_id]

    await ours.send_text(room_id, "just us two")
    messages = await js.messages(room_id, wait_for_bodies=["just us two"])
    assert any(m["body"] == "just us two" and m["decrypted"] for m in messages)


async def test_a_mention_from_element_in_an_encrypted_room_highlights(engines, js_peer_factory):
    js = await js_peer_factory("element")
    ours = await engines("tui")
    room_id = await _shared_room(js, ours)
    await ours.sync_once()
    notes: list[Notification] = []
    ours.subscribe(lambda e: notes.append(e) if isinstance(e, Notification) else None)

    await js.send(room_id, "nothing for you here")
    await js.send_content(room_id, {"msgtype": "m.text", "body": "Tui: can you look at this?",
                                    "m.mentions": {"user_ids": [ours.user_id]}})
    assert await ours.wait_until(lambda: any(i.body == "Tui: can you look at this?" for i in ours.timeline(room_id)))
    items = {i.body: i for i in ours.timeline(room_id) if i.is_message}
    mention = items["Tui: can you look at this?"]
    assert mention.decrypted and mention.highlight
    assert not items["nothing for you here"].highlight
    assert ours.room(room_id).highlight == 1
    assert [(n.item.body, n.highlight) for n in notes] == [
        ("nothing for you here", False), ("Tui: can you look at this?", True)]


async def test_our_mention_highlights_in_element(engines, js_peer_factory):
    js = await js_peer_factory("element")
    ours = await engines("tui")
    room_id = await _shared_room(js, ours)
    # Our message names the js user by its localpart; what we send carries m.mentions, which
    # Element's push rules read.
    localpart = js.user_id[1:].split(":")[0]
    event_id = await ours.send_text(room_id, f"thanks @{localpart}!")
    plain = await ours.send_text(room_id, f"no mention of {localpart} here")
    messages = await js.messages(room_id, wait_for_bodies=[f"thanks @{localpart}!", f"no mention of {localpart} here"])
    assert any(m["eventId"] == event_id and m["decrypted"] for m in messages)
    assert await js.push_actions(room_id, event_id) == {"notify": True, "highlight": True}
    # Intentional mentions: a name in the text without "@" is not a mention (m.mentions is empty).
    assert (await js.push_actions(room_id, plain))["highlight"] is False
    assert await ours.wait_until(lambda: ours.event_details(room_id, event_id) is not None)
    content = ours.event_details(room_id, event_id).decrypted_json["content"]
    assert content["m.mentions"] == {"user_ids": [js.user_id]}


async def test_typing_and_receipts_both_ways(engines, js_peer_factory):
    js = await js_peer_factory("element")
    ours = await engines("tui")
    room_id = await _shared_room(js, ours)

    # Element types; we see it, then see it stop.
    await js.typing(room_id, True)
    assert await ours.wait_until(lambda: len(ours.typing(room_id)) == 1, 20)
    await js.typing(room_id, False)
    assert await ours.wait_until(lambda: ours.typing(room_id) == (), 20)

    # We type; Element sees it, then sees it stop.
    await ours.set_typing(room_id, True)
    await js.typing_users(room_id, wait_for=ours.user_id)
    await ours.set_typing(room_id, False)
    await js.typing_users(room_id, wait_for_none=True)

    # Element reads our message: its receipt lands on it here.
    event_id = await ours.send_text(room_id, "read me")
    await js.messages(room_id, wait_for_bodies=["read me"])
    await js.send_receipt(room_id, event_id)
    assert await ours.wait_until(lambda: event_id in ours.receipts(room_id), 20)
    assert len(ours.receipts(room_id)[event_id]) == 1

    # We read Element's message: Element sees our receipt.
    theirs = await js.send(room_id, "and me")
    assert await ours.wait_until(lambda: any(i.event_id == theirs for i in ours.timeline(room_id)))
    await ours.mark_read(room_id)
    assert ours.user_id in await js.read_up_to(room_id, theirs, wait_for=ours.user_id)


# -- files and images -------------------------------------------------------------------------------------


def _png(width: int, height: int) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(out, format="PNG")
    return out.getvalue()


async def test_an_image_and_a_file_from_element_download_identical(engines, js_peer_factory, tmp_path):
    import os

    js = await js_peer_factory("element")
    ours = await engines("tui")
    room_id = await _shared_room(js, ours)
    image = _png(120, 80)
    document = os.urandom(300_000)
    image_id = await js.send_file(room_id, image, "blue.png", "image/png", msgtype="m.image",
                                  info={"w": 120, "h": 80})
    file_id = await js.send_file(room_id, document, "notes.bin", "application/octet-stream")
    assert await ours.wait_until(lambda: {image_id, file_id} <= {i.event_id for i in ours.timeline(room_id)})

    assert await ours.attachment_bytes(room_id, image_id) == image
    saved = await ours.save_attachment(room_id, file_id, tmp_path)
    assert saved == tmp_path / "notes.bin" and saved.read_bytes() == document


async def test_our_upload_downloads_identical_in_element(engines, js_peer_factory, tmp_path):
    import os

    js = await js_peer_factory("element")
    ours = await engines("tui")
    room_id = await _shared_room(js, ours)
    picture = tmp_path / "big picture.png"
    picture.write_bytes(_png(1200, 900))
    report = tmp_path / "report.pdf"
    report.write_bytes(os.urandom(250_000))

    image_id = await ours.send_file(room_id, picture)
    file_id = await ours.send_file(room_id, report)
    got = await js.download_file(room_id, image_id)
    assert got["data"] == picture.read_bytes() and got["encrypted"]
    assert (got["msgtype"], got["name"], got["info"]["w"], got["info"]["h"]) == ("m.image", "big picture.png", 1200, 900)
    assert got["info"]["thumbnail_info"]["w"] == 800
    got = await js.download_file(room_id, file_id)
    assert got["data"] == report.read_bytes() and got["msgtype"] == "m.file" and got["mimetype"] == "application/pdf"
