"""The user's push rules, evaluated on our side of the encryption (pure: no nio, no I/O).

The server evaluates push rules on what it can read; in an encrypted room that is only
`m.room.encrypted`, so it can say "notify" but never "this mentions you". We evaluate the same
rules on the decrypted event, as Element does (matrix-js-sdk's PushProcessor, ruma's
`Ruleset::get_actions` in matrix-rust-sdk): override, content, room, sender, underride rules in
that order, the first enabled rule whose conditions all hold decides.

What the spec says and we follow:

- conditions: `event_match` (glob; `content.body` by words, anything else whole),
  `event_property_is`, `event_property_contains` (keys with `\\.` for a literal dot, as in
  `content.m\\.mentions.user_ids`), `contains_display_name`, `room_member_count`,
  `sender_notification_permission`; an unknown condition never holds (so a rule we do not
  understand never fires);
- an event with `m.mentions` (intentional mentions) skips the legacy rules that guess mentions
  from the text (`.m.rule.contains_display_name`, `.m.rule.contains_user_name`,
  `.m.rule.roomnotif`);
- our own events never notify;
- actions: `notify` (and the legacy `coalesce`), `dont_notify` (nothing), tweaks `highlight`
  (true when given without a value) and `sound`.

Rules arrive in account data that any of our own clients may have written badly: `parse_rules`
keeps what is well formed (and at most `MAX_RULES` per kind), skips the rest, and falls back to
the spec's default rules when nothing usable is left. Evaluating never raises.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import field
from functools import lru_cache
from typing import Any

from ...records import record
from .glob import matches_whole, matches_words

KINDS = ("override", "content", "room", "sender", "underride")
MAX_RULES = 500  # per kind
MAX_CONDITIONS = 20  # per rule
LEGACY_MENTION_RULES = frozenset({".m.rule.contains_display_name", ".m.rule.contains_user_name", ".m.rule.roomnotif"})


@record
class Rule:
    rule_id: str
    kind: str
    conditions: tuple[Mapping[str, Any], ...]
    actions: tuple[Any, ...]
    enabled: bool = True


@record
class Ruleset:
    rules: tuple[Rule, ...]  # in evaluation order (override, content, room, sender, underride)


@record
class PushContext:
    """What the rules need to know about the room and the user, besides the event."""

    user_id: str
    display_name: str | None  # ours, in this room
    member_count: int  # joined members
    sender_power: int
    notification_levels: Mapping[str, int] = field(default_factory=dict)  # power_levels.notifications


@record
class PushActions:
    notify: bool = False
    highlight: bool = False
    sound: str | None = None
    rule_id: str | None = None


NOTHING = PushActions()


# -- the default rules (spec: "Predefined rules") -------------------------------------------------------


def _match(key: str, pattern: str) -> dict[str, Any]:
    return {"kind": "event_match", "key": key, "pattern": pattern}


def _is(key: str, value: Any) -> dict[str, Any]:
    return {"kind": "event_property_is", "key": key, "value": value}


_NOTIFY_SOUND = ("notify", {"set_tweak": "sound", "value": "default"})
_HIGHLIGHT = {"set_tweak": "highlight"}


def default_rules(user_id: str) -> dict[str, Any]:
    """The spec's predefined rules for `user_id`, in the shape of `m.push_rules`' `global`."""
    localpart = user_id[1:].split(":", 1)[0] if user_id.startswith("@") else user_id

    def rule(rule_id: str, conditions: list[Any], actions: list[Any], enabled: bool = True) -> dict[str, Any]:
        return {"rule_id": rule_id, "default": True, "enabled": enabled, "conditions": conditions, "actions": actions}

    return {
        "override": [
            rule(".m.rule.master", [], [], enabled=False),
            rule(".m.rule.suppress_notices", [_match("content.msgtype", "m.notice")], []),
            rule(".m.rule.invite_for_me", [_match("type", "m.room.member"), _match("content.membership", "invite"),
                                           _match("state_key", user_id)], [*_NOTIFY_SOUND]),
            rule(".m.rule.member_event", [_match("type", "m.room.member")], []),
            rule(".m.rule.is_user_mention",
                 [{"kind": "event_property_contains", "key": "content.m\\.mentions.user_ids", "value": user_id}],
                 [*_NOTIFY_SOUND, _HIGHLIGHT]),
            rule(".m.rule.contains_display_name", [{"kind": "contains_display_name"}], [*_NOTIFY_SOUND, _HIGHLIGHT]),
            rule(".m.rule.is_room_mention",
                 [_is("content.m\\.mentions.room", True), {"kind": "sender_notification_permission", "key": "room"}],
                 ["notify", _HIGHLIGHT]),
            rule(".m.rule.roomnotif", [{"kind": "sender_notification_permission", "key": "room"},
                                       _match("content.body", "@room")], ["notify", _HIGHLIGHT]),
            rule(".m.rule.tombstone", [_match("type", "m.room.tombstone"), _match("state_key", "")],
                 ["notify", _HIGHLIGHT]),
            rule(".m.rule.reaction", [_match("type", "m.reaction")], []),
            rule(".m.rule.room.server_acl", [_match("type", "m.room.server_acl"), _match("state_key", "")], []),
            rule(".m.rule.suppress_edits", [_is("content.m\\.relates_to.rel_type", "m.replace")], []),
        ],
        "content": [
            {"rule_id": ".m.rule.contains_user_name", "default": True, "enabled": True, "pattern": localpart,
             "actions": [*_NOTIFY_SOUND, _HIGHLIGHT]},
        ],
        "room": [],
        "sender": [],
        "underride": [
            rule(".m.rule.call", [_match("type", "m.call.invite")], ["notify", {"set_tweak": "sound", "value": "ring"}]),
            rule(".m.rule.encrypted_room_one_to_one",
                 [{"kind": "room_member_count", "is": "2"}, _match("type", "m.room.encrypted")], [*_NOTIFY_SOUND]),
            rule(".m.rule.room_one_to_one",
                 [{"kind": "room_member_count", "is": "2"}, _match("type", "m.room.message")], [*_NOTIFY_SOUND]),
            rule(".m.rule.message", [_match("type", "m.room.message")], ["notify"]),
            rule(".m.rule.encrypted", [_match("type", "m.room.encrypted")], ["notify"]),
            rule(".m.rule.poll_start_one_to_one",
                 [{"kind": "room_member_count", "is": "2"}, _match("type", "org.matrix.msc3381.poll.start")],
                 [*_NOTIFY_SOUND]),
            rule(".m.rule.poll_start", [_match("type", "org.matrix.msc3381.poll.start")], ["notify"]),
        ],
    }


# -- parsing what the account data holds ---------------------------------------------------------------


def _rule_from(kind: str, raw: Any) -> Rule | None:
    if not isinstance(raw, dict):
        return None
    rule_id = raw.get("rule_id")
    actions = raw.get("actions")
    if not isinstance(rule_id, str) or not rule_id or len(rule_id) > 500 or not isinstance(actions, list):
        return None
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        return None
    conditions: list[Mapping[str, Any]]
    if kind in ("override", "underride"):
        found = raw.get("conditions", [])
        if not isinstance(found, list) or len(found) > MAX_CONDITIONS:
            return None
        if not all(isinstance(c, dict) for c in found):
            return None
        conditions = list(found)
    elif kind == "content":
        pattern = raw.get("pattern")
        if not isinstance(pattern, str) or not pattern:
            return None
        conditions = [_match("content.body", pattern)]
    elif kind == "room":
        conditions = [{"kind": "event_match", "key": "room_id", "pattern": rule_id, "exact": True}]
    else:  # sender
        conditions = [{"kind": "event_match", "key": "sender", "pattern": rule_id, "exact": True}]
    return Rule(rule_id, kind, tuple(conditions), tuple(actions[:20]), enabled)


def parse_rules(content: Any, user_id: str) -> Ruleset:
    """The rules of an `m.push_rules` account data content (its `global` scope); the spec's
    defaults when it holds nothing usable."""
    scope = content.get("global") if isinstance(content, dict) else None
    rules: list[Rule] = []
    if isinstance(scope, dict):
        for kind in KINDS:
            found = scope.get(kind)
            if not isinstance(found, list):
                continue
            for raw in found[:MAX_RULES]:
                rule = _rule_from(kind, raw)
                if rule is not None:
                    rules.append(rule)
    if not rules:
        return default_ruleset(user_id)
    return Ruleset(tuple(rules))


def default_ruleset(user_id: str) -> Ruleset:
    return parse_rules({"global": default_rules(user_id)}, user_id) if user_id else Ruleset(())


# -- evaluating ------------------------------------------------------------------------------------------

@lru_cache(maxsize=256)
def split_key(key: str) -> tuple[str, ...]:
    """"content.m\\.mentions.user_ids" -> ["content", "m.mentions", "user_ids"]: a backslash
    escapes a dot or a backslash; any other backslash is itself."""
    parts: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(key):
        ch = key[i]
        if ch == "\\" and i + 1 < len(key) and key[i + 1] in ".\\":
            current.append(key[i + 1])
            i += 2
            continue
        if ch == ".":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    return tuple(parts)


_MISSING = object()


def value_at(event: Mapping[str, Any], key: str) -> Any:
    value: Any = event
    for part in split_key(key):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, bool, int)) and not isinstance(value, float)


def _same(a: Any, b: Any) -> bool:
    """JSON equality of two scalars (true is not 1)."""
    return type(a) is type(b) and a == b


_COUNT = re.compile(r"^(==|<=|>=|<|>)?([0-9]{1,9})$")


def _member_count_holds(spec: Any, count: int) -> bool:
    if not isinstance(spec, str):
        return False
    found = _COUNT.match(spec)
    if not found:
        return False
    op, number = found.group(1) or "==", int(found.group(2))
    return {"==": count == number, "<": count < number, ">": count > number,
            "<=": count <= number, ">=": count >= number}[op]


@lru_cache(maxsize=256)
def _name_pattern(name: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)" + re.escape(name) + r"(?!\w)", re.IGNORECASE)


def _display_name_holds(event: Mapping[str, Any], name: str | None) -> bool:
    body = value_at(event, "content.body")
    if not isinstance(body, str) or not name:
        return False
    return _name_pattern(name).search(body) is not None


def condition_holds(condition: Mapping[str, Any], event: Mapping[str, Any], ctx: PushContext) -> bool:
    kind = condition.get("kind")
    if kind == "event_match":
        key, pattern = condition.get("key"), condition.get("pattern")
        if not isinstance(key, str) or not isinstance(pattern, str):
            return False
        value = value_at(event, key)
        if not isinstance(value, str):
            return False
        if condition.get("exact"):  # room and sender rules: the rule id is the value itself
            return value == pattern
        if key == "content.body":
            return matches_words(pattern, value)
        return matches_whole(pattern, value)
    if kind == "event_property_is":
        key, expected = condition.get("key"), condition.get("value", _MISSING)
        if not isinstance(key, str) or expected is _MISSING or not _scalar(expected):
            return False
        value = value_at(event, key)
        return value is not _MISSING and _scalar(value) and _same(value, expected)
    if kind == "event_property_contains":
        key, expected = condition.get("key"), condition.get("value", _MISSING)
        if not isinstance(key, str) or expected is _MISSING or not _scalar(expected):
            return False
        value = value_at(event, key)
        return isinstance(value, list) and any(_scalar(v) and _same(v, expected) for v in value)
    if kind == "contains_display_name":
        return _display_name_holds(event, ctx.display_name)
    if kind == "room_member_count":
        return _member_count_holds(condition.get("is"), ctx.member_count)
    if kind == "sender_notification_permission":
        key = condition.get("key")
        if not isinstance(key, str):
            return False
        needed = ctx.notification_levels.get(key, 50)
        return isinstance(needed, int) and ctx.sender_power >= needed
    return False  # a condition we do not know never holds


def actions_of(rule: Rule) -> PushActions:
    notify = highlight = False
    sound: str | None = None
    for action in rule.actions:
        if action in ("notify", "coalesce"):
            notify = True
        elif isinstance(action, dict):
            tweak = action.get("set_tweak")
            if tweak == "highlight":
                value = action.get("value", True)
                highlight = value is True
            elif tweak == "sound" and isinstance(action.get("value"), str):
                sound = action["value"][:50]
    # A highlight without notify is not shown either (the spec: actions other than notify do
    # nothing without it).
    return PushActions(notify, highlight and notify, sound if notify else None, rule.rule_id)


def evaluate(rules: Ruleset, event: Mapping[str, Any], ctx: PushContext) -> PushActions:
    """What the first matching rule says to do with `event` (a dict with at least `type`,
    `content`, `sender`, `room_id`; decrypted if it was encrypted)."""
    if event.get("sender") == ctx.user_id:
        return NOTHING
    content = event.get("content")
    intentional = isinstance(content, dict) and isinstance(content.get("m.mentions"), dict)
    for rule in rules.rules:
        if not rule.enabled:
            continue
        if intentional and rule.rule_id in LEGACY_MENTION_RULES:
            continue
        try:
            if all(condition_holds(c, event, ctx) for c in rule.conditions):
                return actions_of(rule)
        except (RecursionError, ValueError, TypeError):
            continue
    return NOTHING
