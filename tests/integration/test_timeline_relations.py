"""Relations against the real Synapse: the CLI's reply/edit/react/redact, hostile relation events
(read with a reason in the log, never a traceback, nothing stored damaged), and a restart that
rebuilds the same timeline from the offline cache."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest

from tests.helpers import send_raw_event
from tui_client.engine.engine import Engine

pytestmark = pytest.mark.integration


def run(env: dict, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "tui_client", *args], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, f"{args}: {proc.stderr}"
    return proc


def test_the_cli_replies_edits_reacts_and_deletes_and_history_tells(homeserver, make_user, cli_env):
    alice = make_user("alice")
    run(cli_env, "--profile", "a", "login", "--homeserver", homeserver.url, "--user", alice.localpart,
        f"--password={alice.password}")
    room = run(cli_env, "--profile", "a", "create-room", "CLI relations").stdout.strip()
    question = run(cli_env, "--profile", "a", "send", room, "lunch at noon?").stdout.strip()
    answer = run(cli_env, "--profile", "a", "reply", room, question, "or at one").stdout.strip().splitlines()[-1]
    edit = run(cli_env, "--profile", "a", "edit", room, question, "lunch at 12:30?").stdout.strip().splitlines()[-1]
    reaction = run(cli_env, "--profile", "a", "react", room, question, "👍").stdout.strip().splitlines()[-1]
    in_thread = run(cli_env, "--profile", "a", "reply", room, question, "thread talk", "--thread").stdout.strip()
    doomed = run(cli_env, "--profile", "a", "send", room, "delete me").stdout.strip()
    redaction = run(cli_env, "--profile", "a", "redact", room, doomed, "--reason", "test").stdout.strip()
    for event_id in (answer, edit, reaction, in_thread, redaction):
        assert event_id.startswith("$"), event_id

    items = {i["event_id"]: i for i in json.loads(run(cli_env, "--profile", "a", "history", room, "--json").stdout)}
    assert edit not in items and reaction not in items and redaction not in items
    assert items[question]["body"] == "lunch at 12:30?" and items[question]["edited"]
    assert items[question]["reactions"] == {"👍": [alice.user_id]} and items[question]["thread_replies"] == 1
    assert items[answer]["reply_to"] == question and items[answer]["body"] == "or at one"
    assert items[in_thread]["thread_root"] == question
    assert items[doomed]["redacted"] and items[doomed]["body"] is None
    text = run(cli_env, "--profile", "a", "history", room).stdout
    assert "lunch at 12:30? (edited)" in text and "👍 1" in text and "[reply to" in text
    assert "(message deleted: test)" in text and "delete me" not in text

    failed = subprocess.run([sys.executable, "-m", "tui_client", "--profile", "a", "react", room, question, "👍"],
                            env=cli_env, capture_output=True, text=True, timeout=120)
    assert failed.returncode == 1 and "already reacted" in failed.stderr


async def test_hostile_relations_are_read_with_a_reason_and_survive_a_restart(engines, tmp_path, caplog):
    alice = await engines("alice")
    bob_dir = tmp_path / "bob"
    bob = await engines("bob", profile_dir=bob_dir)
    mallory = await engines("mallory")
    room_id = await alice.create_room("Hostile", encrypted=False, history_visibility="shared")
    for user in (bob, mallory):
        await alice.invite(room_id, user.user_id)
        assert await user.wait_until(lambda u=user: any(i.room_id == room_id for i in u.invites()), 20)
        await user.join(room_id)
    target = await alice.send_text(room_id, "Alice's words")
    await mallory.sync_once()
    # (A reaction to an event Synapse does not know is refused when sent; the aggregation's unit
    # tests cover relations whose target never arrives.)
    hostile = [
        ("m.room.message", {"msgtype": "m.text", "body": "* Mallory's words", "m.new_content": {
            "msgtype": "m.text", "body": "Mallory's words"}, "m.relates_to": {"rel_type": "m.replace", "event_id": target}}),
        ("m.reaction", {"m.relates_to": {"rel_type": "m.annotation", "event_id": target, "key": "k" * 200}}),
        ("m.room.message", {"msgtype": "m.text", "body": "relation is a list", "m.relates_to": ["x"]}),
        ("m.room.message", {"msgtype": "m.text", "body": "x" * 60000}),
        ("org.matrix.msc3381.poll.response", {"m.relates_to": {"rel_type": "m.reference", "event_id": target},
                                              "org.matrix.msc3381.poll.response": {"answers": "not a list"}}),
        ("m.room.message", {"msgtype": "m.text", "body": "reply to nothing",
                            "m.relates_to": {"m.in_reply_to": {"event_id": "$nowhere"}}}),
    ]
    with caplog.at_level(logging.INFO):
        for event_type, content in hostile:
            try:
                await send_raw_event(mallory, room_id, event_type, content)
            except Exception as exc:  # the server refused it: fine, but say which
                raise AssertionError(f"Synapse refused {event_type} {str(content)[:80]}: {exc}") from exc
        marker = await alice.send_text(room_id, "after the storm")
        assert await bob.wait_until(lambda: any(i.event_id == marker for i in bob.timeline(room_id)), 30)
        await bob.settle(5)
    assert "Traceback" not in caplog.text
    assert "not from the sender" in caplog.text
    items = bob.timeline(room_id)
    by_id = {i.event_id: i for i in items}
    assert by_id[target].body == "Alice's words" and not by_id[target].edited
    assert [r.key for r in by_id[target].reactions] == ["k" * 200]
    bodies = [i.body for i in items if i.is_message]
    assert "relation is a list" in bodies and "x" * 60000 in bodies
    replying = next(i for i in items if i.body == "reply to nothing")
    assert replying.reply is not None and replying.reply.state in ("missing", "loading")
    await bob.close()

    again = Engine("bob", profile_dir=bob_dir)
    try:
        assert await again.open()
        assert [(i.event_id, i.body, i.reactions, i.edited) for i in again.timeline(room_id)] == [
            (i.event_id, i.body, i.reactions, i.edited) for i in items], "the cache gives back the same timeline"
    finally:
        await again.close()



async def test_an_old_message_a_reply_quotes_is_fetched_with_the_edit_the_server_bundles(engines):
    """Bob joins after Alice wrote and edited a message and twenty more: his first sync does not
    reach it. A reply to it makes his engine fetch it (GET /event), and the newest edit comes
    bundled with it (unsigned.m.relations.m.replace): the quote shows the edited text."""
    alice = await engines("alice")
    bob = await engines("bob")
    room_id = await alice.create_room("Long ago", encrypted=False, history_visibility="shared")
    old = await alice.send_text(room_id, "the first plan")
    await alice.wait_until(lambda: any(i.event_id == old for i in alice.timeline(room_id)), 20)
    await alice.edit(room_id, old, "the second plan")
    for n in range(20):
        await alice.send_text(room_id, f"filler {n}")
    await alice.invite(room_id, bob.user_id)
    assert await bob.wait_until(lambda: any(i.room_id == room_id for i in bob.invites()), 20)
    await bob.join(room_id)
    assert all(i.event_id != old for i in bob.timeline(room_id)), "the first sync does not reach it"
    answer = await alice.reply(room_id, old, "about that plan")

    def quoted() -> bool:
        reply = next((i for i in bob.timeline(room_id) if i.event_id == answer), None)
        return reply is not None and reply.reply is not None and reply.reply.state == "ok"

    assert await bob.wait_until(quoted, 30)
    reply = next(i for i in bob.timeline(room_id) if i.event_id == answer)
    assert (reply.reply.sender, reply.reply.snippet) == (alice.user_id, "the second plan")
    assert all(i.event_id != old for i in bob.timeline(room_id)), "fetched as context, not put in the timeline"
