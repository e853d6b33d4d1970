"""Markdown in the composer → `formatted_body` HTML (org.matrix.custom.html).

Raw HTML typed by the user is escaped, not passed through. A message whose markdown adds
nothing (plain text) is sent without `formatted_body`, like Element does.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

from markdown_it import MarkdownIt

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "breaks": True}).disable("image")


def _plain_html(text: str) -> tuple[str, str]:
    escaped = html.escape(text, quote=False)
    return f"<p>{escaped.replace(chr(10), '<br />' + chr(10))}</p>", f"<p>{escaped}</p>"


def markdown_to_html(text: str) -> str | None:
    rendered = _md.render(text).strip()
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
