"""The relations we send have the shapes the spec and Element use (pure)."""

from __future__ import annotations

from tui_client.engine.outgoing import (
    edit_content,
    reaction_content,
    reply_content,
    thread_content,
    with_edit_mentions,
    with_mentions,
)


def test_a_reply_names_its_target_mentions_its_sender_and_carries_no_fallback():
    content = reply_content("**yes**", "$q", "@alice:x", own_user_id="@bob:x")
    assert content["m.relates_to"] == {"m.in_reply_to": {"event_id": "$q"}}
    assert content["m.mentions"] == {"user_ids": ["@alice:x"]}
    assert content["body"] == "**yes**" and content["formatted_body"] == "<strong>yes</strong>"
    assert reply_content("x", "$q", "@bob:x", own_user_id="@bob:x")["m.mentions"] == {}


def test_a_reply_inside_a_thread_stays_in_it_and_is_not_a_fallback():
    content = reply_content("ok", "$t1", "@alice:x", own_user_id="@bob:x", thread_root="$root")
    assert content["m.relates_to"] == {
        "rel_type": "m.thread", "event_id": "$root", "is_falling_back": False, "m.in_reply_to": {"event_id": "$t1"},
    }


def test_a_thread_message_falls_back_to_the_threads_latest_message():
    assert thread_content("hi", "$root", "$latest")["m.relates_to"] == {
        "rel_type": "m.thread", "event_id": "$root", "is_falling_back": True, "m.in_reply_to": {"event_id": "$latest"},
    }
    assert thread_content("hi", "$root", None)["m.relates_to"]["m.in_reply_to"] == {"event_id": "$root"}


def test_an_edit_has_a_star_fallback_and_the_new_content():
    content = edit_content("new *text*", "$orig", msgtype="m.emote")
    assert content["body"] == "* new *text*" and content["msgtype"] == "m.emote"
    assert content["formatted_body"] == "* new <em>text</em>"
    assert content["m.new_content"] == {"msgtype": "m.emote", "body": "new *text*", "format": "org.matrix.custom.html",
                                        "formatted_body": "new <em>text</em>"}
    assert content["m.relates_to"] == {"rel_type": "m.replace", "event_id": "$orig"}
    assert "m.relates_to" not in content["m.new_content"]


def test_a_reaction_is_an_annotation():
    assert reaction_content("$m", "👍") == {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$m", "key": "👍"}}


# -- mentions on relations (issue 14's m.mentions on issue 12's relations) -----------------------

MEMBERS = {"@alice:x": "Alice", "@bob:x": "Bob", "@carol:x": "Carol"}


def test_a_reply_mentions_whom_it_answers_and_whom_its_text_names():
    content = with_mentions(reply_content("@Carol look", "$q", "@alice:x", own_user_id="@bob:x"), MEMBERS, "@bob:x")
    assert content["m.mentions"] == {"user_ids": ["@alice:x", "@carol:x"]}


def test_an_edit_mentions_at_the_top_only_whom_the_new_text_adds():
    edit = with_edit_mentions(edit_content("@Alice and @Carol", "$orig"), MEMBERS, "@bob:x", "hi @Alice")
    assert edit["m.new_content"]["m.mentions"] == {"user_ids": ["@alice:x", "@carol:x"]}
    assert edit["m.mentions"] == {"user_ids": ["@carol:x"]}  # Alice was mentioned before: not twice
    unchanged = with_edit_mentions(edit_content("hi @Alice!", "$orig"), MEMBERS, "@bob:x", "hi @Alice")
    assert unchanged["m.mentions"] == {}  # present, so receivers do not search the "* …" text for names
