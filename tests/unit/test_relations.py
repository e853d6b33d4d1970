"""Edits, reactions, replies, threads, polls and redactions folded into the items they target,
whatever order the events arrive in, including hostile ones (pure: no server)."""

from __future__ import annotations

import json
import logging

import pytest

from tests.timeline_events import (
    ALICE,
    BOB,
    MALLORY,
    Ctx,
    decrypted,
    edit,
    in_thread,
    plain,
    poll_end,
    poll_start,
    raw,
    reaction,
    redaction,
    reply,
    text,
    undecryptable,
    vote,
)
from tui_client.engine.models import KeyProvenance
from tui_client.engine.timeline.codec import decode, encode
from tui_client.engine.timeline.relations import Aggregator, EventFacts


@pytest.fixture
def ctx() -> Ctx:
    return Ctx()


def agg(**kw) -> Aggregator:
    return Aggregator(BOB, **kw)


def ids(items) -> list[str]:
    return [i.event_id for i in items]


# -- edits ---------------------------------------------------------------------------------------


def test_the_newest_edit_from_the_sender_is_shown_and_edits_are_not_items(ctx):
    a = agg()
    original = text(ALICE, "helo wrold")
    first = edit(ALICE, original["event_id"], "hello world")
    second = edit(ALICE, original["event_id"], "hello, world!")
    a.add([plain(ctx, original), plain(ctx, first), plain(ctx, second)])
    [item] = a.items()
    assert item.event_id == original["event_id"]
    assert item.body == "hello, world!" and item.edited
    assert [v.body for v in item.edits] == ["helo wrold", "hello world", "hello, world!"]


def test_an_edit_that_arrives_before_its_original_applies_when_it_comes(ctx):
    a = agg()
    original = text(ALICE, "first", ts=1000)
    change = edit(ALICE, original["event_id"], "second", ts=2000)
    changes = a.add([plain(ctx, change)])
    assert not changes and a.items() == []
    changes = a.add([plain(ctx, original)], at="start")  # paging back brings the original
    assert [i.body for i in changes.added] == ["second"] and changes.added[0].edited


def test_the_newest_edit_wins_whatever_the_arrival_order(ctx):
    a = agg()
    original = text(ALICE, "v1", ts=1000)
    newer = edit(ALICE, original["event_id"], "v3", ts=3000)
    older = edit(ALICE, original["event_id"], "v2", ts=2000)
    a.add([plain(ctx, original), plain(ctx, newer)])
    changes = a.add([plain(ctx, older)])
    assert a.items()[0].body == "v3"
    assert not changes.updated or changes.updated[0].body == "v3"
    assert [v.body for v in a.items()[0].edits] == ["v1", "v2", "v3"]


def test_an_edit_by_someone_else_is_ignored_with_a_reason(ctx, caplog):
    a = agg()
    original = text(ALICE, "I owe Bob nothing")
    forged = edit(MALLORY, original["event_id"], "I owe Mallory 1000 EUR")
    with caplog.at_level(logging.INFO, logger="tui_client.engine.timeline.relations"):
        a.add([plain(ctx, original), plain(ctx, forged)])
        item = a.items()[0]
    assert item.body == "I owe Bob nothing" and not item.edited
    assert "not from the sender" in caplog.text


def test_a_plaintext_edit_of_an_encrypted_message_is_ignored(ctx):
    a = agg()
    original = text(ALICE, "secret plan")
    forged = edit(ALICE, original["event_id"], "changed by the server")
    a.add([decrypted(ctx, original), plain(ctx, forged)])
    assert a.items()[0].body == "secret plan"


def test_an_encrypted_edit_of_an_encrypted_message_applies_with_its_provenance(ctx):
    ctx.shared_sessions["BUNDLE"] = KeyProvenance(ALICE, "ADEV", "Alice")
    a = agg()
    original = text(ALICE, "draft")
    change = edit(ALICE, original["event_id"], "final")
    a.add([decrypted(ctx, original, session="DIRECT"), decrypted(ctx, change, session="BUNDLE")])
    item = a.items()[0]
    assert item.body == "final" and item.provenance is None
    assert item.edit_provenance is not None and item.edit_provenance.shared_by == ALICE
    assert item.shown_provenance == item.edit_provenance


def test_an_undecryptable_edit_is_hidden_and_applies_once_it_decrypts(ctx):
    a = agg()
    original = text(ALICE, "before")
    change = edit(ALICE, original["event_id"], "after")
    changes = a.add([decrypted(ctx, original), undecryptable(ctx, change)])
    assert ids(changes.added) == [original["event_id"]]  # the UTD edit is not an item
    assert a.items()[0].body == "before"
    changes = a.update(decrypted(ctx, change))
    assert [i.body for i in changes.updated] == ["after"] and not changes.added


def test_an_edit_whose_relation_is_only_in_the_ciphertext_leaves_the_timeline_when_it_decrypts(ctx):
    a = agg()
    original = text(ALICE, "before")
    change = edit(ALICE, original["event_id"], "after")
    a.add([decrypted(ctx, original), undecryptable(ctx, change, cleartext_relation=None)])
    assert ids(a.items()) == [original["event_id"], change["event_id"]]  # a UTD we cannot place yet
    changes = a.update(decrypted(ctx, change, cleartext_relation=None))
    assert changes.removed == [change["event_id"]]
    assert [i.body for i in changes.updated] == ["after"]
    assert ids(a.items()) == [original["event_id"]]


def test_the_cleartext_relation_wins_over_the_one_inside_the_ciphertext(ctx):
    a = agg()
    one, two = text(ALICE, "one"), text(ALICE, "two")
    change = edit(ALICE, one["event_id"], "one, edited")
    facts = decrypted(ctx, change, cleartext_relation={"rel_type": "m.replace", "event_id": two["event_id"]})
    a.add([decrypted(ctx, one), decrypted(ctx, two), facts])
    bodies = {i.event_id: i.body for i in a.items()}
    assert bodies == {one["event_id"]: "one", two["event_id"]: "one, edited"}


# -- reactions -----------------------------------------------------------------------------------


def test_reactions_count_each_sender_once_per_key_and_know_our_own(ctx):
    a = agg()
    message = text(ALICE, "lunch?")
    first = reaction(ALICE, message["event_id"], "👍")
    mine = reaction(BOB, message["event_id"], "👍")
    a.add([
        plain(ctx, message), plain(ctx, first), plain(ctx, mine),
        plain(ctx, reaction(ALICE, message["event_id"], "👍")), plain(ctx, reaction(ALICE, message["event_id"], "🎉")),
    ])
    item = a.items()[0]
    assert [(r.key, r.senders) for r in item.reactions] == [("👍", (ALICE, BOB)), ("🎉", (ALICE,))]
    assert item.reaction("👍").own_event_id == mine["event_id"] and item.reaction("🎉").own_event_id is None


def test_a_redacted_reaction_stops_counting(ctx):
    a = agg()
    message = text(ALICE, "lunch?")
    thumbs = reaction(ALICE, message["event_id"], "👍")
    a.add([plain(ctx, message), plain(ctx, thumbs)])
    changes = a.add([plain(ctx, redaction(ALICE, thumbs["event_id"]))])
    assert [i.reactions for i in changes.updated] == [()]


def test_a_reaction_to_an_unknown_event_waits_for_it(ctx):
    a = agg()
    message = text(ALICE, "old message", ts=10)
    a.add([plain(ctx, reaction(BOB, message["event_id"], "❤️"))])
    assert a.items() == []
    changes = a.add([plain(ctx, message)], at="start")
    assert changes.added[0].reactions[0].key == "❤️"


def test_relations_to_events_that_never_come_are_forgotten_beyond_a_cap(ctx, caplog):
    a = agg(max_pending=5)
    with caplog.at_level(logging.INFO):
        a.add([plain(ctx, reaction(MALLORY, f"$nowhere{n}", "x")) for n in range(20)])
    assert len(a) == 5 and "never arrived" in caplog.text


def test_an_undecryptable_reaction_is_hidden_until_it_decrypts(ctx):
    a = agg()
    message = text(ALICE, "hi")
    thumbs = reaction(ALICE, message["event_id"], "👍")
    a.add([plain(ctx, message), undecryptable(ctx, thumbs)])
    assert ids(a.items()) == [message["event_id"]] and a.items()[0].reactions == ()
    a.update(decrypted(ctx, thumbs))
    assert a.items()[0].reactions[0].senders == (ALICE,)


# -- redactions ----------------------------------------------------------------------------------


def test_a_redaction_leaves_a_placeholder_and_keeps_no_text(ctx):
    a = agg()
    message = text(ALICE, "my password is hunter2")
    fix = edit(ALICE, message["event_id"], "my password is hunter3")
    answer = reply(BOB, message["event_id"], ALICE, "my password is hunter2", "oops")
    a.add([decrypted(ctx, message), decrypted(ctx, fix), decrypted(ctx, answer)])
    changes = a.add([plain(ctx, redaction(ALICE, message["event_id"], "typed in the wrong room"))])
    deleted = next(i for i in a.items() if i.event_id == message["event_id"])
    assert deleted.redacted and deleted.body is None and deleted.redacted_by == ALICE
    assert deleted.redaction_reason == "typed in the wrong room" and not deleted.edits
    quoting = next(i for i in a.items() if i.event_id == answer["event_id"])
    assert quoting.reply is not None and quoting.reply.state == "deleted" and quoting.reply.snippet is None
    assert {i.event_id for i in changes.updated} == {message["event_id"], answer["event_id"]}
    everything = json.dumps([encode(f) for f in a.timeline_facts()])
    assert "hunter" not in everything


def test_a_redaction_by_someone_without_power_is_ignored(ctx, caplog):
    a = agg(may_redact=lambda redacter, sender: redacter == ALICE)
    bobs = text(BOB, "bob's words")
    with caplog.at_level(logging.INFO):
        a.add([plain(ctx, bobs), plain(ctx, redaction(MALLORY, bobs["event_id"]))])
    assert a.items()[0].body == "bob's words" and "may not delete" in caplog.text
    a.add([plain(ctx, redaction(ALICE, bobs["event_id"]))])  # a moderator may
    assert a.items()[0].redacted and a.items()[0].redacted_by == ALICE


def test_a_redaction_that_arrives_before_its_target_applies_when_the_target_comes(ctx):
    a = agg()
    message = text(ALICE, "gone", ts=10)
    a.add([plain(ctx, redaction(ALICE, message["event_id"]))])
    changes = a.add([plain(ctx, message)], at="start")
    assert changes.added[0].redacted and changes.added[0].body is None


def test_redacting_an_edit_brings_back_the_previous_version(ctx):
    a = agg()
    message = text(ALICE, "v1")
    change = edit(ALICE, message["event_id"], "v2")
    a.add([plain(ctx, message), plain(ctx, change)])
    changes = a.add([plain(ctx, redaction(ALICE, change["event_id"]))])
    assert [(i.body, i.edited) for i in changes.updated] == [("v1", False)]


def test_a_message_the_server_sends_redacted_is_a_placeholder(ctx):
    a = agg()
    message = raw(ALICE, "m.room.message", {}, unsigned={"redacted_because": {
        "sender": ALICE, "type": "m.room.redaction", "content": {"reason": "spam"}, "event_id": "$r",
        "origin_server_ts": 5, "redacts": "$x"}})
    a.add([plain(ctx, message)])
    [item] = a.items()
    assert item.redacted and item.body is None and item.redaction_reason == "spam" and item.is_message


# -- replies -------------------------------------------------------------------------------------


def test_a_reply_loses_its_fallback_and_quotes_the_current_text_of_its_target(ctx):
    a = agg()
    question = text(ALICE, "Shall we ship on Friday?\nSecond line")
    answer = reply(BOB, question["event_id"], ALICE, "Shall we ship on Friday?", "Yes, **Friday**")
    a.add([decrypted(ctx, question), decrypted(ctx, answer)])
    item = a.items()[1]
    assert item.body == "Yes, **Friday**" and "mx-reply" not in (item.formatted_body or "")
    assert item.reply_to == question["event_id"]
    assert (item.reply.state, item.reply.sender_name, item.reply.snippet) == ("ok", "Alice", "Shall we ship on Friday?")
    changes = a.add([decrypted(ctx, edit(ALICE, question["event_id"], "Ship on Monday?"))])
    updated = {i.event_id: i for i in changes.updated}
    assert updated[answer["event_id"]].reply.snippet == "Ship on Monday?"


def test_a_reply_to_an_unknown_event_asks_for_it_and_says_when_it_is_missing(ctx):
    a = agg()
    answer = reply(BOB, "$elsewhere", ALICE, "x", "yes")
    a.add([plain(ctx, answer)])
    assert a.unresolved_replies() == {"$elsewhere"}
    assert a.items()[0].reply.state == "loading"
    changes = a.mark_missing("$elsewhere")
    assert changes.updated[0].reply.state == "missing" and a.unresolved_replies() == set()


def test_a_reply_target_fetched_as_context_is_quoted_but_not_shown(ctx):
    a = agg()
    old = text(ALICE, "from long ago")
    answer = reply(BOB, old["event_id"], ALICE, "from long ago", "indeed")
    a.add([plain(ctx, answer)])
    changes = a.add([plain(ctx, old)], at="context")
    assert ids(a.items()) == [answer["event_id"]]
    assert changes.updated[0].reply.snippet == "from long ago"


# -- threads -------------------------------------------------------------------------------------


def test_a_thread_root_counts_its_replies_and_replies_know_their_root(ctx):
    a = agg()
    root = text(ALICE, "Release checklist")
    first = in_thread(BOB, root["event_id"], "tests pass")
    second = in_thread(ALICE, root["event_id"], "docs done", latest=first["event_id"])
    a.add([plain(ctx, root), plain(ctx, first), plain(ctx, second)])
    items = {i.event_id: i for i in a.items()}
    summary = items[root["event_id"]].thread
    assert summary.replies == 2 and summary.latest_sender_name == "Alice" and summary.latest_snippet == "docs done"
    assert items[first["event_id"]].thread_root == root["event_id"]
    assert items[second["event_id"]].reply_to is None  # a thread's fallback is not a reply
    assert ids(a.thread(root["event_id"])) == [root["event_id"], first["event_id"], second["event_id"]]
    assert a.latest_in_thread(root["event_id"]) == second["event_id"]
    changes = a.add([plain(ctx, redaction(BOB, first["event_id"]))])
    assert {i.event_id: i.thread.replies if i.thread else None for i in changes.updated}[root["event_id"]] == 1


# -- polls ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("stable", [False, True], ids=["unstable", "stable"])
def test_a_poll_counts_each_voters_latest_valid_vote_until_it_ends(ctx, stable):
    a = agg(may_redact=lambda redacter, sender: False)
    poll = poll_start(ALICE, "Lunch?", ["Pizza", "Salad"], stable=stable, ts=100)
    pid = poll["event_id"]
    a.add([
        plain(ctx, poll),
        plain(ctx, vote(ALICE, pid, ["a0"], stable=stable, ts=200)),
        plain(ctx, vote(BOB, pid, ["a0"], stable=stable, ts=210)),
        plain(ctx, vote(BOB, pid, ["a1"], stable=stable, ts=220)),  # Bob changes his mind
        plain(ctx, vote(MALLORY, pid, ["a0", "a1"], stable=stable, ts=230)),  # too many: spoiled
        plain(ctx, poll_end(MALLORY, pid, stable=stable, ts=240)),  # not hers to end
    ])
    item = a.items()[0]
    assert item.kind == "poll" and item.poll.question == "Lunch?"
    assert [(x.text, x.voters) for x in item.poll.answers] == [("Pizza", (ALICE,)), ("Salad", (BOB,))]
    assert item.poll.voters == 2 and not item.poll.ended
    assert item.body == "Poll: Lunch?\n1. Pizza (1 vote)\n2. Salad (1 vote)"
    a.add([plain(ctx, poll_end(ALICE, pid, stable=stable, ts=300)),
           plain(ctx, vote(MALLORY, pid, ["a0"], stable=stable, ts=400))])  # too late
    item = a.items()[0]
    assert item.poll.ended and item.poll.voters == 2 and len(item.poll.answers[0].voters) == 1
    assert item.poll.own_choice(BOB) == ("a1",)
    assert len(a.items()) == 1  # votes and ends are folded into the poll


def test_an_undisclosed_poll_hides_its_results_in_words_until_it_ends(ctx):
    a = agg()
    poll = poll_start(ALICE, "Secret ballot", ["yes", "no"], kind="undisclosed")
    a.add([plain(ctx, poll), plain(ctx, vote(BOB, poll["event_id"], ["a0"]))])
    assert "vote" not in a.items()[0].body.split("\n")[1] and "when the poll ends" in a.items()[0].body


# -- events the aggregation must survive ---------------------------------------------------------


def test_malformed_relations_are_ignored(ctx):
    a = agg()
    message = text(ALICE, "target")
    junk = [
        raw(MALLORY, "m.reaction", {"m.relates_to": {"rel_type": "m.annotation", "event_id": message["event_id"]}}),
        raw(MALLORY, "m.reaction", {"m.relates_to": {"rel_type": "m.annotation", "event_id": 42, "key": "x"}}),
        raw(MALLORY, "m.room.message", {"msgtype": "m.text", "body": "* x", "m.new_content": "not an object",
                                         "m.relates_to": {"rel_type": "m.replace", "event_id": message["event_id"]}}),
        raw(MALLORY, "m.room.message", {"msgtype": "m.text", "body": "hi", "m.relates_to": ["not", "an", "object"]}),
        raw(MALLORY, "m.room.message", {"msgtype": "m.text", "body": "hi",
                                         "m.relates_to": {"rel_type": "m.thread", "event_id": "$" + "x" * 5000}}),
    ]
    a.add([plain(ctx, message)] + [plain(ctx, j) for j in junk])
    items = a.items()
    assert items[0].body == "target" and items[0].reactions == () and not items[0].edited
    assert [i.body for i in items[1:]] == ["hi", "hi"] and items[2].thread_root is None


def test_an_edit_of_an_edit_and_an_edit_of_a_state_event_are_ignored(ctx):
    a = agg()
    message = text(ALICE, "v1")
    first = edit(ALICE, message["event_id"], "v2")
    nested = edit(ALICE, first["event_id"], "v3")
    name = raw(ALICE, "m.room.name", {"name": "Room"}, state_key="")
    renamed = edit(ALICE, name["event_id"], "hacked")
    a.add([plain(ctx, f) for f in (message, first, nested, name, renamed)])
    assert [i.body for i in a.items()] == ["v2", "Alice named the room “Room”"]


def test_a_huge_body_is_kept_whole(ctx):
    a = agg()
    big = "x" * 1_000_000
    a.add([plain(ctx, text(ALICE, big))])
    assert a.items()[0].body == big


def test_facts_survive_a_round_trip_through_the_cache_codec(ctx):
    a = agg()
    poll = poll_start(ALICE, "Q?", ["a", "b"])
    message = text(ALICE, "hello")
    a.add([decrypted(ctx, message), plain(ctx, poll), plain(ctx, vote(BOB, poll["event_id"], ["a1"])),
           plain(ctx, reaction(BOB, message["event_id"], "👍")),
           undecryptable(ctx, text(ALICE, "later"))])
    again = agg()
    again.add([decode(EventFacts, json.loads(json.dumps(encode(f)))) for f in a.timeline_facts()])
    assert again.items() == a.items()
