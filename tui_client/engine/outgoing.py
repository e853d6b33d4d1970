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
