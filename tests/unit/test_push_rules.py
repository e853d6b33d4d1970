"""Push rules evaluated on decrypted events: mentions (intentional and legacy), keywords, room
and sender rules, the default rule set, hostile rule sets, and globs that stay linear."""

from __future__ import annotations

import random
import re
import time

import pytest

from tui_client.engine.notifications.glob import matches_whole, matches_words
from tui_client.engine.notifications.push_rules import (
    PushContext,
    default_ruleset,
    evaluate,
    parse_rules,
    split_key,
)

ME = "@bob:example.org"
ROOM = "!room:example.org"


def ctx(**kw) -> PushContext:
    base = dict(user_id=ME, display_name="Bob", member_count=5, sender_power=0, notification_levels={})
    base.update(kw)
    return PushContext(**base)


def message(body: str, *, sender: str = "@alice:example.org", room: str = ROOM, **content) -> dict:
    return {"type": "m.room.message", "sender": sender, "room_id": room,
            "content": {"msgtype": "m.text", "body": body, **content}}


RULES = default_ruleset(ME)


# -- the default rules -------------------------------------------------------------------------------


def test_an_ordinary_message_notifies_without_highlight():
    actions = evaluate(RULES, message("lunch?"), ctx())
    assert actions.notify and not actions.highlight and actions.rule_id == ".m.rule.message"


def test_an_intentional_mention_highlights():
    actions = evaluate(RULES, message("hey you", **{"m.mentions": {"user_ids": [ME]}}), ctx())
    assert actions.highlight and actions.rule_id == ".m.rule.is_user_mention"


def test_a_mention_of_someone_else_does_not():
    event = message("hey Bob", **{"m.mentions": {"user_ids": ["@carol:example.org"]}})
    actions = evaluate(RULES, event, ctx())
    # m.mentions is there, so the name in the text is not guessed to be a mention.
    assert actions.notify and not actions.highlight


def test_legacy_display_name_and_user_name_mentions_without_m_mentions():
    assert evaluate(RULES, message("thanks, bob!"), ctx()).highlight  # display name, any case
    assert evaluate(RULES, message("ask bob."), ctx(display_name="Robert")).rule_id == ".m.rule.contains_user_name"
    assert not evaluate(RULES, message("bobsleigh tomorrow"), ctx(display_name="Robert")).highlight  # not a word


def test_room_mentions_need_the_power_to_notify_the_room():
    event = message("everyone", **{"m.mentions": {"room": True}})
    assert not evaluate(RULES, event, ctx(sender_power=0)).highlight
    assert evaluate(RULES, event, ctx(sender_power=50)).highlight
    assert not evaluate(RULES, event, ctx(sender_power=50, notification_levels={"room": 100})).highlight
    assert evaluate(RULES, message("@room look"), ctx(sender_power=100)).rule_id == ".m.rule.roomnotif"


def test_own_messages_notices_edits_and_reactions_never_notify():
    assert not evaluate(RULES, message("bob", sender=ME), ctx()).notify
    assert not evaluate(RULES, message("bob", msgtype="m.notice"), ctx()).notify
    edit = message("* fixed typo", **{"m.relates_to": {"rel_type": "m.replace", "event_id": "$x"}})
    assert not evaluate(RULES, edit, ctx()).notify
    # As in the spec's order, a mention still counts in an edit (suppress_edits comes last).
    mention = message("* ask Bob", **{"m.relates_to": {"rel_type": "m.replace", "event_id": "$x"}})
    assert evaluate(RULES, mention, ctx()).highlight
    reaction = {"type": "m.reaction", "sender": "@alice:example.org", "room_id": ROOM,
                "content": {"m.relates_to": {"rel_type": "m.annotation", "key": "👍", "event_id": "$x"}}}
    assert not evaluate(RULES, reaction, ctx()).notify


def test_one_to_one_rooms_notify_with_sound():
    actions = evaluate(RULES, message("hi"), ctx(member_count=2))
    assert actions.notify and actions.sound == "default" and actions.rule_id == ".m.rule.room_one_to_one"


# -- rules from the account data ---------------------------------------------------------------------


def rules_with(**extra) -> dict:
    from tui_client.engine.notifications.push_rules import default_rules

    scope = default_rules(ME)
    for kind, rules in extra.items():
        scope[kind] = rules + scope[kind]
    return {"global": scope}


def test_a_keyword_highlights_by_word():
    keyword = {"rule_id": "deploy", "pattern": "deploy*", "enabled": True,
               "actions": ["notify", {"set_tweak": "highlight"}]}
    rules = parse_rules(rules_with(content=[keyword]), ME)
    assert evaluate(rules, message("Deploying now"), ctx()).highlight
    assert not evaluate(rules, message("redeploy now"), ctx()).highlight


def test_a_muted_room_and_a_muted_sender():
    mute_room = {"rule_id": ROOM, "enabled": True, "actions": []}
    mute_sender = {"rule_id": "@spam:example.org", "enabled": True, "actions": ["dont_notify"]}
    rules = parse_rules(rules_with(room=[mute_room], sender=[mute_sender]), ME)
    assert not evaluate(rules, message("hello"), ctx()).notify
    assert evaluate(rules, message("hello", room="!other:example.org"), ctx()).notify
    assert not evaluate(rules, message("hi", room="!other:example.org", sender="@spam:example.org"), ctx()).notify
    # A mention still wins in a mentions-only room: override rules come before room rules.
    assert evaluate(rules, message("hi", **{"m.mentions": {"user_ids": [ME]}}), ctx()).highlight


def test_master_rule_silences_everything_when_enabled():
    rules_json = rules_with()
    rules_json["global"]["override"][0]["enabled"] = True
    rules = parse_rules(rules_json, ME)
    assert not evaluate(rules, message("hi", **{"m.mentions": {"user_ids": [ME]}}), ctx()).notify


def test_a_disabled_rule_is_skipped():
    rules_json = rules_with()
    for rule in rules_json["global"]["override"]:
        if rule["rule_id"] == ".m.rule.is_user_mention":
            rule["enabled"] = False
    rules = parse_rules(rules_json, ME)
    actions = evaluate(rules, message("hi", **{"m.mentions": {"user_ids": [ME]}}), ctx())
    assert actions.notify and not actions.highlight


@pytest.mark.parametrize("content", [
    None, 42, "rules", [], {"global": None}, {"global": {"override": "nope"}},
    {"global": {"override": [1, "x", None, {"rule_id": 5}, {"rule_id": "x", "actions": "notify"}]}},
])
def test_unusable_rule_sets_fall_back_to_the_defaults(content):
    rules = parse_rules(content, ME)
    assert evaluate(rules, message("hi", **{"m.mentions": {"user_ids": [ME]}}), ctx()).highlight


def test_hostile_rules_are_skipped_one_by_one_and_unknown_conditions_never_hold():
    hostile = [
        {"rule_id": "a", "conditions": [{"kind": "made_up"}], "actions": ["notify", {"set_tweak": "highlight"}]},
        {"rule_id": "b", "conditions": "all", "actions": ["notify"]},
        {"rule_id": "c", "conditions": [{"kind": "event_match", "key": 5, "pattern": "*"}],
         "actions": ["notify", {"set_tweak": "highlight"}]},
        {"rule_id": "d", "conditions": [{"kind": "event_property_is", "key": "content", "value": {"a": 1}}],
         "actions": ["notify", {"set_tweak": "highlight"}]},
        {"rule_id": "e", "conditions": [{"kind": "room_member_count", "is": "≥2"}],
         "actions": ["notify", {"set_tweak": "highlight"}]},
        {"rule_id": "f", "conditions": [{"kind": "event_match", "key": "content.body", "pattern": "x" * 5000}],
         "actions": ["notify", {"set_tweak": "highlight"}]},
    ]
    rules = parse_rules(rules_with(override=hostile), ME)
    actions = evaluate(rules, message("x" * 5000), ctx())
    assert actions.notify and not actions.highlight and actions.rule_id == ".m.rule.message"


def test_property_is_compares_json_types():
    rule = {"rule_id": "t", "conditions": [{"kind": "event_property_is", "key": "content.flag", "value": True}],
            "actions": ["notify", {"set_tweak": "highlight"}]}
    rules = parse_rules(rules_with(override=[rule]), ME)
    assert evaluate(rules, message("x", flag=True), ctx()).highlight
    assert not evaluate(rules, message("x", flag=1), ctx()).highlight
    assert not evaluate(rules, message("x", flag="true"), ctx()).highlight


def test_keys_with_escaped_dots():
    assert split_key("content.m\\.mentions.user_ids") == ("content", "m.mentions", "user_ids")
    assert split_key("a\\\\.b") == ("a\\", "b")
    assert split_key("a\\b.c") == ("a\\b", "c")


# -- globs ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pattern,value,whole", [
    ("m.room.message", "m.room.message", True),
    ("m.room.*", "m.room.message", True),
    ("m.room.*", "m.roomx", False),
    ("?ob", "Bob", True),
    ("*", "", True),
    ("a*b*c", "aXXbYYc", True),
    ("a*b*c", "aXXcYYb", False),
    ("*.org", "@x:example.org", True),
])
def test_whole_value_globs(pattern, value, whole):
    assert matches_whole(pattern, value) is whole


@pytest.mark.parametrize("pattern,text,found", [
    ("bob", "hi bob!", True),
    ("bob", "hi bobby", False),
    ("bob", "hi BOB", True),
    ("@room", "hey @room look", True),
    ("@room", "me@room", False),
    ("deploy*", "deploying now", True),
    ("*ploy", "redeploy", True),
    ("de?loy", "the deploy", True),
    ("two words", "say two words now", True),
    ("naïve", "so NAÏVE", True),
])
def test_word_globs(pattern, text, found):
    assert matches_words(pattern, text) is found


def glob_regex(pattern: str, words: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    if words:
        return re.compile(r"(?<!\w)(?:" + body + r")(?!\w)", re.IGNORECASE | re.DOTALL)
    return re.compile(r"\A(?:" + body + r")\Z", re.IGNORECASE | re.DOTALL)


def test_globs_agree_with_a_backtracking_regex_on_random_inputs():
    rng = random.Random(14)
    alphabet = "ab .*?"
    for _ in range(20000):
        pattern = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))
        text = "".join(rng.choice("ab. ") for _ in range(rng.randint(0, 10)))
        assert matches_whole(pattern, text) == bool(glob_regex(pattern, False).search(text)), (pattern, text)
        assert matches_words(pattern, text) == bool(glob_regex(pattern, True).search(text)), (pattern, text)


def test_a_hostile_body_cannot_make_matching_slow():
    # With a backtracking regex these take minutes; each segment is matched once here.
    body = "a" * 60_000
    start = time.process_time()
    assert not matches_words("a*a*a*a*b", body)
    assert not matches_whole("*a*a*a*a*b", body)
    assert time.process_time() - start < 5
