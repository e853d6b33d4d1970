"""Markdown in the composer → `formatted_body` HTML (org.matrix.custom.html).

Raw HTML typed by the user is escaped, not passed through. A message whose markdown adds
nothing (plain text) is sent without `formatted_body`, like Element does.
"""

from __future__ import annotations

import html

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
