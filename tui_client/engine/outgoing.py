"""Markdown in the composer → `formatted_body` HTML (org.matrix.custom.html).

Raw HTML typed by the user is escaped, not passed through. A message whose markdown adds
nothing (plain text) is sent without `formatted_body`, like Element does.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from markdown_it import MarkdownIt


@cache
def _markdown() -> MarkdownIt:
    """The renderer, made with the first message sent (importing markdown-it and building its
    rules is ~15 ms of the engine's start, before its first sync)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False, "breaks": True}).disable("image")


def _plain_html(text: str) -> tuple[str, str]:
    escaped = html.escape(text, quote=False)
    return f"<p>{escaped.replace(chr(10), '<br />' + chr(10))}</p>", f"<p>{escaped}</p>"


def markdown_to_html(text: str) -> str | None:
    rendered = _markdown().render(text).strip()
    if rendered in _plain_html(text):
        return None
    # Markdown drops the spaces a line starts with; when that is all it did, the text is plain
    # and is sent as typed (indentation kept).
    if rendered in _plain_html("\n".join(line.lstrip(" ") for line in text.split("\n")).strip("\n")):
        return None
    # A single paragraph needs no wrapper (keeps one-line messages compact in other clients).
    if rendered.startswith("<p>") and rendered.endswith("</p>") and rendered.count("<p>") == 1:
        rendered = rendered[3:-4]
    return rendered


def text_content(text: str, *, msgtype: str = "m.text") -> dict:
    content: dict = {"msgtype": msgtype, "body": text}
    formatted = markdown_to_html(text)
    if formatted is not None:
        content["format"] = "org.matrix.custom.html"
        content["formatted_body"] = formatted
    return content


# -- relations, as Element sends them (the spec's shapes; no reply fallback, as of Matrix 1.13) ----

MAX_REACTION_KEY = 100  # characters; Element's quick reactions are one emoji


def reply_content(
    text: str, target_id: str, target_sender: str | None, *, own_user_id: str, msgtype: str = "m.text",
    thread_root: str | None = None,
) -> dict:
    """A reply to `target_id`; inside a thread (`thread_root`) it stays in that thread."""
    content = text_content(text, msgtype=msgtype)
    if thread_root is not None:
        content["m.relates_to"] = {
            "rel_type": "m.thread", "event_id": thread_root, "is_falling_back": False,
            "m.in_reply_to": {"event_id": target_id},
        }
    else:
        content["m.relates_to"] = {"m.in_reply_to": {"event_id": target_id}}
    if target_sender and target_sender != own_user_id:
        content["m.mentions"] = {"user_ids": [target_sender]}  # Element notifies whom one replies to
    else:
        content["m.mentions"] = {}
    return content


def thread_content(text: str, root_id: str, latest_id: str | None, *, msgtype: str = "m.text") -> dict:
    """A message in the thread of `root_id` (not a reply to anyone in it): its `m.in_reply_to` is
    only a fallback to the thread's latest message, for clients without threads."""
    content = text_content(text, msgtype=msgtype)
    content["m.relates_to"] = {
        "rel_type": "m.thread", "event_id": root_id, "is_falling_back": True,
        "m.in_reply_to": {"event_id": latest_id or root_id},
    }
    return content


def edit_content(text: str, target_id: str, *, msgtype: str = "m.text") -> dict:
    """An edit: the new text in `m.new_content`, and "* new text" for clients without edits."""
    new = text_content(text, msgtype=msgtype)
    content: dict = {"msgtype": msgtype, "body": f"* {new['body']}"}
    if "formatted_body" in new:
        content["format"] = new["format"]
        content["formatted_body"] = f"* {new['formatted_body']}"
    content["m.new_content"] = new
    content["m.relates_to"] = {"rel_type": "m.replace", "event_id": target_id}
    return content


def reaction_content(target_id: str, key: str) -> dict:
    return {"m.relates_to": {"rel_type": "m.annotation", "event_id": target_id, "key": key}}


# -- mentions (intentional mentions, Matrix 1.7) -------------------------------------------------------

_AT = re.compile(r"(?<![\w@])@")


def mentioned(text: str, members: Mapping[str, str | None], own_user_id: str) -> tuple[list[str], bool]:
    """Who `text` mentions: (user ids, whether it mentions the room). A mention is `@` then a
    member's full user id, display name or localpart (case-insensitive), ending at a non-word
    character; `@room` mentions the room. Longer names win ("@Ann Lee" over "@Ann")."""
    names: list[tuple[str, str]] = []
    for user_id, display_name in members.items():
        if user_id == own_user_id:
            continue
        names.append((user_id[1:].lower(), user_id))
        names.append((user_id[1:].split(":", 1)[0].lower(), user_id))
        if display_name:
            names.append((display_name.lower(), user_id))
    names.sort(key=lambda pair: -len(pair[0]))
    lowered = text.lower()
    users: list[str] = []
    room = False
    for found in _AT.finditer(text):
        start = found.end()
        for name, user_id in names:
            end = start + len(name)
            if name and lowered.startswith(name, start) and (end == len(text) or not (text[end].isalnum() or text[end] == "_")):
                if user_id not in users:
                    users.append(user_id)
                break
        else:
            end = start + 4
            if lowered.startswith("room", start) and (end == len(text) or not (text[end].isalnum() or text[end] == "_")):
                room = True
    return users, room


def with_mentions(content: dict, members: Mapping[str, str | None], own_user_id: str) -> dict:
    """`content` with its `m.mentions` (always present, as Element sends it: a message without
    it would be searched for names by the receivers' legacy push rules)."""
    users, room = mentioned(content.get("body", ""), members, own_user_id)
    mentions: dict = dict(content.get("m.mentions") or {})
    if users:
        mentions["user_ids"] = list(dict.fromkeys([*mentions.get("user_ids", []), *users]))
    if room:
        mentions["room"] = True
    return {**content, "m.mentions": mentions}


def with_edit_mentions(edit: dict, members: Mapping[str, str | None], own_user_id: str, old_text: str) -> dict:
    """An edit (`edit_content`) with its mentions, as the spec has them: the new content's own
    `m.mentions`, and at the top level only who the edit mentions that the text it replaces did
    not (so nobody is notified twice)."""
    new = with_mentions(edit["m.new_content"], members, own_user_id)
    before, _ = mentioned(old_text, members, own_user_id)
    added = [u for u in new["m.mentions"].get("user_ids", []) if u not in before]
    return {**edit, "m.new_content": new, "m.mentions": {"user_ids": added} if added else {}}
