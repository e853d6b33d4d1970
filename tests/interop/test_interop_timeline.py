"""Replies, edits, reactions, redactions, threads, polls, locations, stickers, notices and
emotes between our engine and matrix-js-sdk 43 + Rust crypto (Element's stack), both ways, live
and through a key bundle (MSC4268): what Element sends, `tui-client history --json` shows
truthfully; what we send, js-sdk's own aggregation reads as Element would."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tui_client.cli.output import item_json
from tui_client.engine.engine import Engine

pytestmark = [pytest.mark.interop, pytest.mark.integration]

STICKER_URL = "mxc://localhost/sticker"


# -- Element writes ----------------------------------------------------------------------------------


async def element_writes_everything(alice, room_id: str) -> dict[str, str]:
    """Every relation and content type Element sends, from matrix-js-sdk. Returns their ids."""
    ids: dict[str, str] = {}
    ids["text"] = await alice.send(room_id, "plain hello")
    ids["edit"] = await alice.edit(room_id, ids["text"], "plain hello, edited")
    ids["question"] = await alice.send(room_id, "Shall we ship on Friday?")
    ids["reply"] = await alice.reply(room_id, ids["question"], "Yes, Friday it is")
    ids["thumbs"] = await alice.react(room_id, ids["question"], "👍")
    ids["party"] = await alice.react(room_id, ids["question"], "🎉")
    ids["unparty"] = await alice.redact(room_id, ids["party"])
    ids["doomed"] = await alice.send(room_id, "this was a mistake, delete it")
    ids["redaction"] = await alice.redact(room_id, ids["doomed"], reason="typo")
    ids["root"] = await alice.send(room_id, "Release checklist")
    ids["in_thread"] = await alice.send_thread(room_id, ids["root"], "tests pass")
    poll = await alice.send_poll(room_id, "Lunch?", ["Pizza", "Salad"])
    ids["poll"], ids["salad"] = poll["eventId"], poll["answerIds"][1]
    ids["vote"] = await alice.vote_poll(room_id, ids["poll"], [ids["salad"]])
    ids["poll_end"] = await alice.end_poll(room_id, ids["poll"])
    stable = await alice.send_poll(room_id, "Stable poll?", ["Yes", "No"], stable=True)
    ids["stable_poll"], ids["yes"] = stable["eventId"], stable["answerIds"][0]
    ids["stable_vote"] = await alice.vote_poll(room_id, ids["stable_poll"], [ids["yes"]], stable=True)
    ids["location"] = await alice.send_location(room_id, "geo:51.5,-0.12", "The office")
    ids["sticker"] = await alice.send_sticker(room_id, "a thumbs up", STICKER_URL)
    ids["notice"] = await alice.send_message(room_id, "build is green", "m.notice")
    ids["emote"] = await alice.send_message(room_id, "waves", "m.emote")
    ids["custom"] = await alice.send_message(room_id, "words for old clients", "com.example.custom")
    ids["last"] = await alice.send(room_id, "that is all")
    return ids


FOLDED = ("edit", "thumbs", "party", "unparty", "redaction", "vote", "poll_end", "stable_vote")


def check_what_element_wrote(items: list[dict], ids: dict[str, str], alice: str, shared_by: str | None) -> None:
    by_id = {i["event_id"]: i for i in items}
    for key in FOLDED:
        assert ids[key] not in by_id, f"the {key} event is folded into its target, not an item"
    everything = json.dumps(items, ensure_ascii=False)
    assert "this was a mistake" not in everything, "a deleted message's text appears nowhere"

    text = by_id[ids["text"]]
    assert (text["body"], text["edited"], text["type"], text["msgtype"]) == (
        "plain hello, edited", True, "m.room.message", "m.text")
    question = by_id[ids["question"]]
    assert question["reactions"] == {"👍": [alice]} and not question["edited"]
    reply = by_id[ids["reply"]]
    assert reply["body"] == "Yes, Friday it is" and reply["reply_to"] == ids["question"]
    doomed = by_id[ids["doomed"]]
    assert doomed["redacted"] and doomed["body"] is None and doomed["reactions"] == {}
    root, in_thread = by_id[ids["root"]], by_id[ids["in_thread"]]
    assert root["thread_replies"] == 1 and root["thread_root"] is None
    assert in_thread["thread_root"] == ids["root"] and in_thread["reply_to"] is None and in_thread["body"] == "tests pass"
    poll = by_id[ids["poll"]]
    assert poll["type"] == "org.matrix.msc3381.poll.start" and poll["poll"]["question"] == "Lunch?"
    assert [(a["text"], a["voters"]) for a in poll["poll"]["answers"]] == [("Pizza", []), ("Salad", [alice])]
    assert poll["poll"]["ended"] and "Lunch?" in poll["body"] and "Salad (1 vote)" in poll["body"]
    stable = by_id[ids["stable_poll"]]
    assert stable["type"] == "m.poll.start" and stable["poll"]["answers"][0]["voters"] == [alice]
    location = by_id[ids["location"]]
    assert location["msgtype"] == "m.location" and location["body"]
    assert location["location"] == {"description": "The office", "geo_uri": "geo:51.5,-0.12"}
    sticker = by_id[ids["sticker"]]
    assert sticker["type"] == "m.sticker" and "a thumbs up" in sticker["body"]
    assert sticker["attachment"] == {"name": "a thumbs up", "mimetype": "image/png", "size": 1234, "encrypted": False}
    assert (by_id[ids["notice"]]["msgtype"], by_id[ids["notice"]]["body"]) == ("m.notice", "build is green")
    assert (by_id[ids["emote"]]["msgtype"], by_id[ids["emote"]]["body"]) == ("m.emote", "waves")
    assert (by_id[ids["custom"]]["msgtype"], by_id[ids["custom"]]["body"]) == (
        "com.example.custom", "words for old clients")
    for key in ("text", "question", "reply", "root", "in_thread", "poll", "location", "sticker", "notice", "last"):
        item = by_id[ids[key]]
        assert item["decrypted"], (key, item)
        assert item["shared_by"] == shared_by, (key, item)
    assert text["attachment"] is None and text["redacted"] is False


def cli_history(env: dict, profile: str, room_id: str) -> list[dict]:
    proc = subprocess.run(
        [sys.executable, "-m", "tui_client", "--profile", profile, "history", room_id, "--json"],
        env=env, capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


async def _bob_in_cli_profile(engines, make_user, cli_env) -> Engine:
    """Our engine, logged in in the profile the CLI (run with `cli_env`) calls "bob"."""
    profile_dir = Path(cli_env["XDG_DATA_HOME"]) / "tui-client" / "profiles" / "bob"
    return await engines("bob", profile_dir=profile_dir)


async def test_element_writes_live_and_the_cli_tells_the_truth(engines, make_user, js_peer_factory, cli_env):
    alice = await js_peer_factory("alice", cross_signing=True)
    bob = await _bob_in_cli_profile(engines, make_user, cli_env)
    room_id = await alice.create_room("Everything", history_visibility="shared")
    await alice.invite(room_id, bob.user_id)
    assert await bob.wait_until(lambda: any(i.room_id == room_id for i in bob.invites()), 30)
    await bob.join(room_id)
    await alice.wait_for_membership(room_id, bob.user_id, "join")
    bob.start_sync()

    ids = await element_writes_everything(alice, room_id)
    assert await bob.wait_until(lambda: any(i.event_id == ids["last"] for i in bob.timeline(room_id)), 60)
    live = [item_json(i) for i in bob.timeline(room_id) if i.is_message]
    check_what_element_wrote(live, ids, alice.user_id, shared_by=None)
    await bob.close()

    check_what_element_wrote(cli_history(cli_env, "bob", room_id), ids, alice.user_id, shared_by=None)


async def test_element_wrote_before_inviting_us_and_the_key_bundle_tells_the_truth(
    engines, make_user, js_peer_factory, cli_env
):
    alice = await js_peer_factory("alice", cross_signing=True)
    bob = await _bob_in_cli_profile(engines, make_user, cli_env)
    room_id = await alice.create_room("History", history_visibility="shared")
    ids = await element_writes_everything(alice, room_id)
    await alice.invite(room_id, bob.user_id)
    assert await bob.wait_until(lambda: any(i.room_id == room_id and i.bundle for i in bob.invites()), 30)
    await bob.join(room_id)
    await bob.load_full_history(room_id)
    items = [item_json(i) for i in bob.timeline(room_id) if i.is_message]
    check_what_element_wrote(items, ids, alice.user_id, shared_by=alice.user_id)
    edited = next(i for i in bob.timeline(room_id) if i.event_id == ids["text"])
    assert edited.edit_provenance is not None and edited.edit_provenance.shared_by == alice.user_id, (
        "an edit decrypted with a bundle key says whose word it rests on too")
    await bob.close()

    check_what_element_wrote(cli_history(cli_env, "bob", room_id), ids, alice.user_id, shared_by=alice.user_id)


# -- we write, Element reads -----------------------------------------------------------------------------


async def we_write_everything(alice: Engine, room_id: str) -> dict[str, str]:
    ids: dict[str, str] = {}
    ids["text"] = await alice.send_text(room_id, "first draft")
    await _seen(alice, room_id, ids["text"])
    ids["edit"] = await alice.edit(room_id, ids["text"], "final **text**")
    ids["question"] = await alice.send_text(room_id, "Who brings snacks?")
    await _seen(alice, room_id, ids["question"])
    ids["reply"] = await alice.reply(room_id, ids["question"], "I do")
    ids["thumbs"] = await alice.react(room_id, ids["question"], "👍")
    ids["doomed"] = await alice.send_text(room_id, "oops, wrong room")
    await _seen(alice, room_id, ids["doomed"])
    ids["redaction"] = await alice.redact(room_id, ids["doomed"], "wrong room")
    ids["root"] = await alice.send_text(room_id, "Thread about the launch")
    await _seen(alice, room_id, ids["root"])
    ids["in_thread"] = await alice.reply(room_id, ids["root"], "first thread message", in_thread=True)
    await _seen(alice, room_id, ids["in_thread"])
    ids["thread_reply"] = await alice.reply(room_id, ids["in_thread"], "a reply inside the thread")
    ids["last"] = await alice.send_text(room_id, "done")
    return ids


async def _seen(engine: Engine, room_id: str, event_id: str) -> None:
    assert await engine.wait_until(lambda: any(i.event_id == event_id for i in engine.timeline(room_id)), 20)


def check_what_we_wrote(view: dict[str, dict], ids: dict[str, str], alice: str) -> None:
    text = view[ids["text"]]
    assert text["replacingEventId"] == ids["edit"] and text["body"] == "final **text**", text
    assert view[ids["edit"]]["relation"] == {"rel_type": "m.replace", "event_id": ids["text"]}, \
        "the relation of an encrypted edit is in the clear"
    assert view[ids["edit"]]["encrypted"] and view[ids["edit"]]["decrypted"]
    assert view[ids["reply"]]["replyEventId"] == ids["question"] and view[ids["reply"]]["body"] == "I do"
    assert view[ids["question"]]["reactions"] == {"👍": [alice]}
    assert not view[ids["thumbs"]]["encrypted"], "reactions go unencrypted, as Element sends them"
    doomed = view[ids["doomed"]]
    assert doomed["redacted"] and doomed["body"] is None and doomed["redactionReason"] == "wrong room"
    assert view[ids["in_thread"]]["threadRootId"] == ids["root"]
    assert view[ids["in_thread"]]["relation"]["is_falling_back"] is True
    nested = view[ids["thread_reply"]]
    assert nested["threadRootId"] == ids["root"] and nested["replyEventId"] == ids["in_thread"]
    assert nested["relation"]["is_falling_back"] is False


async def test_we_write_live_and_element_reads_it_as_element_would(engines, js_peer_factory):
    alice = await engines("alice")
    bob = await js_peer_factory("bob", cross_signing=True)
    room_id = await alice.create_room("From tui", history_visibility="shared")
    await alice.invite(room_id, bob.user_id)
    await bob.wait_for_invite(room_id)
    await bob.join(room_id)
    assert await alice.wait_until(lambda: alice.room(room_id).joined_count == 2, 20)
    ids = await we_write_everything(alice, room_id)
    view = await bob.wait_timeline(
        room_id, lambda v: ids["last"] in v and v.get(ids["doomed"], {}).get("redacted")
        and v.get(ids["question"], {}).get("reactions") and v.get(ids["text"], {}).get("replacingEventId"), 45)
    check_what_we_wrote(view, ids, alice.user_id)


async def test_we_wrote_before_inviting_element_and_it_reads_it_through_the_bundle(engines, js_peer_factory):
    alice = await engines("alice")
    bob = await js_peer_factory("bob", cross_signing=True)
    room_id = await alice.create_room("Old tui history", history_visibility="shared")
    ids = await we_write_everything(alice, room_id)
    result = await alice.invite(room_id, bob.user_id)
    assert result is not None and result.shared, result
    assert await bob.wait_for_invite(room_id) == alice.user_id
    await bob.wait_for_room_key_bundle(room_id, sender=alice.user_id)
    await bob.join(room_id)
    await bob.messages(room_id, wait_for_bodies=["done", "I do", "a reply inside the thread"], timeout_ms=30000)
    view = await bob.wait_timeline(
        room_id, lambda v: v.get(ids["text"], {}).get("replacingEventId") and v.get(ids["reply"], {}).get("decrypted"),
        45)
    check_what_we_wrote(view, ids, alice.user_id)


async def test_an_edit_of_our_message_by_someone_else_is_ignored_here_as_in_element(engines, js_peer_factory):
    """An edit of our message sent by someone else (Element) is ignored by us, as by Element."""
    alice = await engines("alice")
    mallory = await js_peer_factory("mallory", cross_signing=True)
    room_id = await alice.create_room("Edits", history_visibility="shared")
    await alice.invite(room_id, mallory.user_id)
    await mallory.wait_for_invite(room_id)
    await mallory.join(room_id)
    assert await alice.wait_until(lambda: alice.room(room_id).joined_count == 2, 20)
    mine = await alice.send_text(room_id, "I owe nobody anything")
    await mallory.wait_timeline(room_id, lambda v: mine in v)
    forged = await mallory.edit(room_id, mine, "I owe Mallory 1000 EUR")
    await mallory.send(room_id, "sync marker")
    assert await alice.wait_until(lambda: any(i.body == "sync marker" for i in alice.timeline(room_id)), 20)
    item = next(i for i in alice.timeline(room_id) if i.event_id == mine)
    assert item.body == "I owe nobody anything" and not item.edited
    assert all(i.event_id != forged for i in alice.timeline(room_id))
    view = await mallory.timeline(room_id)
    assert next(v for v in view if v["eventId"] == mine)["body"] == "I owe nobody anything", "Element agrees"


async def test_three_cli_sends_use_one_megolm_session(engines, js_peer_factory, cli_env, homeserver, make_user):
    """nio keeps its outbound session in memory only; ours is kept in the store, so consecutive
    `tui-client send` calls continue one Megolm session, and Element decrypts every message."""
    bob = await js_peer_factory("bob", cross_signing=True)
    alice_user = make_user("alice")
    subprocess.run(
        [sys.executable, "-m", "tui_client", "--profile", "a", "login", "--homeserver", homeserver.url,
         "--user", alice_user.localpart, "--password-stdin"],
        env=cli_env, input=alice_user.password + "\n", capture_output=True, text=True, timeout=120, check=True,
    )

    def cli(*args: str) -> str:
        proc = subprocess.run([sys.executable, "-m", "tui_client", "--profile", "a", *args], env=cli_env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip().splitlines()[-1]

    room_id = cli("create-room", "Sessions", "--history-visibility", "shared")
    cli("invite", room_id, bob.user_id)
    await bob.wait_for_invite(room_id)
    await bob.join(room_id)
    sent = [cli("send", room_id, f"message {n}") for n in range(3)]
    messages = await bob.messages(room_id, wait_for_bodies=[f"message {n}" for n in range(3)], timeout_ms=30000)
    by_id = {m["eventId"]: m for m in messages}
    assert all(by_id[e]["decrypted"] for e in sent), [by_id[e] for e in sent]
    sessions = {by_id[e]["sessionId"] for e in sent}
    assert len(sessions) == 1, f"three CLI sends used {len(sessions)} Megolm sessions"

    def own_sessions() -> set[str]:
        report = json.loads(subprocess.run(
            [sys.executable, "-m", "tui_client", "--profile", "a", "inspect", room_id, "--json"], env=cli_env,
            capture_output=True, text=True, timeout=120, check=True).stdout)
        return {s["session_id"] for s in report["sessions"] if s["origin"] == "own"}

    assert own_sessions() == sessions
    # A member leaving while no tui-client runs still ends the session (nio's rule, kept).
    await bob.leave(room_id)
    cli("send", room_id, "after bob left")
    after = own_sessions()
    assert len(after) == 2 and sessions < after
