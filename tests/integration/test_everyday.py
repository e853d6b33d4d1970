"""The everyday parts against a real Synapse: direct chats (m.direct both ways), mentions in an
encrypted room highlighted by our own push-rule evaluation, typing and read receipts, spaces
with joined and unjoined children."""

from __future__ import annotations

import asyncio

import pytest

from tests.helpers import raw_request
from tui_client.engine.engine import Engine, EngineError
from tui_client.engine.events import Notification, ReceiptsChanged, TypingChanged

pytestmark = pytest.mark.integration


async def _room_with(alice: Engine, bob: Engine, name: str = "Everyday") -> str:
    room_id = await alice.create_room(name, history_visibility="shared")
    await alice.invite(room_id, bob.user_id)
    assert await bob.wait_until(lambda: any(i.room_id == room_id for i in bob.invites()))
    await bob.join(room_id)
    assert await alice.wait_until(
        lambda: bob.user_id in {m.user_id for m in alice.room(room_id).members if m.membership == "join"})
    return room_id


def account_data(engine: Engine, kind: str) -> dict:
    client = engine.client
    return raw_request(client.homeserver, client.access_token, "GET",
                       f"/_matrix/client/v3/user/{client.user_id}/account_data/{kind}")


# -- direct chats ----------------------------------------------------------------------------------


async def test_a_dm_is_one_for_both_sides_and_is_found_again(engines):
    alice = await engines("alice")
    bob = await engines("bob")

    room_id = await alice.open_dm(bob.user_id)
    mine = alice.room(room_id)
    assert mine.is_direct and mine.dm_user == bob.user_id and mine.encrypted
    assert mine.name == "Bob"  # called after the person
    assert account_data(alice, "m.direct") == {bob.user_id: [room_id]}

    # Bob's invite says it is a direct chat; accepting it lists it in his m.direct.
    assert await bob.wait_until(lambda: any(i.room_id == room_id for i in bob.invites()))
    invite = next(i for i in bob.invites() if i.room_id == room_id)
    assert invite.is_direct and invite.inviter == alice.user_id
    await bob.join(room_id)
    assert account_data(bob, "m.direct") == {alice.user_id: [room_id]}
    assert bob.room(room_id).is_direct and bob.room(room_id).dm_user == alice.user_id

    # Asking again opens the same room on either side, however it was made.
    assert await alice.open_dm(bob.user_id) == room_id
    assert await bob.open_dm(alice.user_id) == room_id

    await alice.send_text(room_id, "just us")
    assert await bob.wait_until(lambda: any(i.body == "just us" and i.decrypted for i in bob.timeline(room_id)))


async def test_a_dm_invite_pending_is_accepted_rather_than_a_second_room(engines):
    alice = await engines("alice")
    bob = await engines("bob")
    room_id = await alice.open_dm(bob.user_id)
    assert await bob.wait_until(lambda: any(i.room_id == room_id for i in bob.invites()))
    assert await bob.open_dm(alice.user_id) == room_id
    assert bob.room(room_id) is not None and bob.room(room_id).is_direct


async def test_m_direct_from_another_client_is_read_and_a_bad_one_changes_nothing(engines):
    alice = await engines("alice")
    bob = await engines("bob")
    room_id = await _room_with(alice, bob)
    assert not bob.room(room_id).is_direct
    client = bob.client
    path = f"/_matrix/client/v3/user/{client.user_id}/account_data/m.direct"
    hostile = {alice.user_id: [room_id, 5, "not a room", None], "not a user": [room_id], "@x:y": "!r:y",
               "@evil\u202e:y": ["!a:b"]}
    await asyncio.to_thread(raw_request, client.homeserver, client.access_token, "PUT", path, hostile)
    assert await bob.wait_until(lambda: bob.room(room_id).is_direct, 20)
    assert bob.room(room_id).dm_user == alice.user_id
    assert await bob.open_dm(alice.user_id) == room_id  # found through what the other client wrote

    # Adding a DM keeps what the other client wrote, even what we cannot read.
    carol = await engines("carol")
    new_dm = await bob.open_dm(carol.user_id)
    assert new_dm != room_id
    written = account_data(bob, "m.direct")
    assert written["not a user"] == [room_id] and written["@x:y"] == "!r:y"
    assert written[carol.user_id] == [new_dm]

    # An m.direct that says nothing usable about our rooms: nothing is a DM, nothing breaks.
    await asyncio.to_thread(raw_request, client.homeserver, client.access_token, "PUT", path, {"@x:y": "!r:y"})
    assert await bob.wait_until(lambda: not bob.room(room_id).is_direct and not bob.room(new_dm).is_direct, 20)


async def test_dm_refuses_what_is_not_a_user(engines):
    alice = await engines("alice")
    with pytest.raises(EngineError, match="not a user id"):
        await alice.open_dm("bob")
    with pytest.raises(EngineError, match="someone else"):
        await alice.open_dm(alice.user_id)


# -- mentions -----------------------------------------------------------------------------------------


async def test_a_mention_in_an_encrypted_room_highlights_message_and_room(engines):
    alice = await engines("alice")
    bob = await engines("bob")
    room_id = await _room_with(alice, bob)
    notes: list[Notification] = []
    bob.subscribe(lambda e: notes.append(e) if isinstance(e, Notification) else None)
    await bob.sync_once()  # the backlog is not news; what follows is

    await alice.send_text(room_id, "plain message")
    await alice.send_text(room_id, "look at this @Bob")
    assert await bob.wait_until(lambda: any(i.body == "look at this @Bob" for i in bob.timeline(room_id)))
    items = {i.body: i for i in bob.timeline(room_id) if i.is_message}
    assert items["look at this @Bob"].highlight and items["look at this @Bob"].decrypted
    assert not items["plain message"].highlight
    # The server could not read it (encrypted), so the count is ours.
    assert bob.room(room_id).highlight == 1
    assert [(n.item.body, n.highlight, n.direct) for n in notes] == [
        ("plain message", False, False), ("look at this @Bob", True, False)]
    await bob.mark_read(room_id)
    assert bob.room(room_id).highlight == 0

    # The mention was intentional (m.mentions), so the wire content says whom it mentions.
    assert await alice.wait_until(lambda: any(i.body == "look at this @Bob" for i in alice.timeline(room_id)))
    event = next(i for i in alice.timeline(room_id) if i.body == "look at this @Bob")
    details = alice.event_details(room_id, event.event_id)
    assert details.decrypted_json["content"]["m.mentions"] == {"user_ids": [bob.user_id]}


async def test_a_keyword_rule_and_a_muted_room_apply_in_encrypted_rooms(engines):
    alice = await engines("alice")
    bob = await engines("bob")
    room_id = await _room_with(alice, bob)
    muted = await _room_with(alice, bob, "Muted")
    client = bob.client
    base = "/_matrix/client/v3/pushrules/global"
    await asyncio.to_thread(raw_request, client.homeserver, client.access_token, "PUT",
                            f"{base}/content/deploy", {"pattern": "deploy*", "actions": ["notify", {"set_tweak": "highlight"}]})
    await asyncio.to_thread(raw_request, client.homeserver, client.access_token, "PUT",
                            f"{base}/room/{muted}", {"actions": []})
    await bob.sync_once()
    notes: list[Notification] = []
    bob.subscribe(lambda e: notes.append(e) if isinstance(e, Notification) else None)
    await alice.send_text(room_id, "Deploying to production")
    await alice.send_text(muted, "nobody hears this")
    await alice.send_text(muted, "except @Bob")
    assert await bob.wait_until(lambda: any(i.body == "except @Bob" for i in bob.timeline(muted)))
    assert await bob.wait_until(lambda: any(i.body == "Deploying to production" for i in bob.timeline(room_id)))
    assert next(i for i in bob.timeline(room_id) if i.body == "Deploying to production").highlight
    assert sorted((n.room_id, n.item.body) for n in notes) == sorted(
        [(room_id, "Deploying to production"), (muted, "except @Bob")])


def _item(engine: Engine, room_id: str, event_id: str):
    return next((i for i in engine.timeline(room_id) if i.event_id == event_id), None)


async def test_edits_reactions_and_deletions_are_not_news_and_a_reply_to_us_is_a_mention(engines):
    """Relations are folded into the message they are about (issue 12), so the notifier sees
    only new messages: an edit or a reaction never rings, a reply to us does (it mentions us),
    and deleting a mention takes it off the room's count."""
    alice = await engines("alice")
    bob = await engines("bob")
    room_id = await _room_with(alice, bob)
    ours = await bob.send_text(room_id, "shall we ship?")
    assert await alice.wait_until(lambda: _item(alice, room_id, ours) is not None)
    await bob.sync_once()  # the backlog is not news; what follows is
    notes: list[Notification] = []
    bob.subscribe(lambda e: notes.append(e) if isinstance(e, Notification) else None)

    plain = await alice.send_text(room_id, "plain message")
    await alice.edit(room_id, plain, "plain message, edited for @Bob")
    await alice.react(room_id, ours, "👍")
    reply = await alice.reply(room_id, ours, "yes, today")
    assert await bob.wait_until(lambda: (item := _item(bob, room_id, reply)) is not None and item.decrypted
                                and (ours_now := _item(bob, room_id, ours)) is not None and ours_now.reactions
                                and (edited := _item(bob, room_id, plain)) is not None and edited.edited)
    await bob.sync_once()
    assert [(n.item.event_id, n.highlight) for n in notes] == [(plain, False), (reply, True)]
    assert _item(bob, room_id, reply).highlight and bob.room(room_id).highlight == 1

    await alice.redact(room_id, reply)
    assert await bob.wait_until(lambda: _item(bob, room_id, reply).redacted)
    assert not _item(bob, room_id, reply).highlight and bob.room(room_id).highlight == 0
    assert len(notes) == 2


# -- typing and receipts ---------------------------------------------------------------------------------


async def test_typing_and_read_receipts_both_ways(engines):
    alice = await engines("alice")
    bob = await engines("bob")
    room_id = await _room_with(alice, bob)
    seen: list[object] = []
    bob.subscribe(lambda e: seen.append(e) if isinstance(e, (TypingChanged, ReceiptsChanged)) else None)

    await alice.set_typing(room_id, True)
    assert await bob.wait_until(lambda: bob.typing(room_id) == ("Alice",), 20)
    assert any(isinstance(e, TypingChanged) and e.names == ("Alice",) for e in seen)
    await alice.set_typing(room_id, False)
    assert await bob.wait_until(lambda: bob.typing(room_id) == (), 20)

    await bob.send_text(room_id, "did you read this?")
    assert await alice.wait_until(lambda: any(i.body == "did you read this?" for i in alice.timeline(room_id)))
    await alice.mark_read(room_id)
    assert await bob.wait_until(lambda: any(i.body == "did you read this?" for i in bob.timeline(room_id)))
    message = next(i for i in bob.timeline(room_id) if i.body == "did you read this?")
    assert await bob.wait_until(lambda: bob.receipts(room_id).get(message.event_id) == ("Alice",), 20)
    assert any(isinstance(e, ReceiptsChanged) for e in seen)
    # Our own read marker is where we read to.
    await bob.mark_read(room_id)
    assert await bob.wait_until(lambda: bob.read_marker(room_id) == bob.timeline(room_id)[-1].event_id, 20)


async def test_typing_can_be_turned_off(engines):
    from tui_client.config import Settings

    alice = await engines("alice", settings=Settings(send_typing=False))
    bob = await engines("bob")
    room_id = await _room_with(alice, bob)
    await alice.set_typing(room_id, True)
    await alice.send_text(room_id, "typed quietly")
    assert await bob.wait_until(lambda: any(i.body == "typed quietly" for i in bob.timeline(room_id)))
    assert bob.typing(room_id) == ()


# -- spaces ---------------------------------------------------------------------------------------------------


async def _space(owner: Engine, name: str, children: list[str]) -> str:
    client = owner.client
    body = {"name": name, "creation_content": {"type": "m.space"}, "preset": "public_chat",
            "initial_state": [{"type": "m.space.child", "state_key": c, "content": {"via": ["localhost"]}}
                              for c in children]}
    answer = await asyncio.to_thread(raw_request, client.homeserver, client.access_token, "POST",
                                     "/_matrix/client/v3/createRoom", body)
    return answer["room_id"]


async def _public_room(owner: Engine, name: str) -> str:
    client = owner.client
    answer = await asyncio.to_thread(raw_request, client.homeserver, client.access_token, "POST",
                                     "/_matrix/client/v3/createRoom", {"name": name, "preset": "public_chat",
                                                                        "topic": f"all about {name}"})
    return answer["room_id"]


async def test_a_space_lists_joined_and_unjoined_children_and_joins_one(engines):
    alice = await engines("alice")
    bob = await engines("bob")
    joined_child = await _room_with(alice, bob, "Engineering")
    other = await _public_room(alice, "Design")
    space = await _space(alice, "Company", [joined_child, other, "!missing:localhost"])
    await bob.join(space)
    assert await bob.wait_until(
        lambda: (s := bob.room(space)) is not None and any(c.name == "Design" for c in s.children), 30)
    summary = bob.room(space)
    assert summary.is_space
    children = {c.room_id: c for c in summary.children}
    assert children[joined_child].joined and not children[other].joined
    assert children[other].topic == "all about Design" and children[other].via == ("localhost",)
    assert children["!missing:localhost"].name is None and not children["!missing:localhost"].joined

    await bob.join(other)  # through the servers the space names
    assert await bob.wait_until(lambda: next(c for c in bob.room(space).children if c.room_id == other).joined, 20)
