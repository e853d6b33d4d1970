from __future__ import annotations

from tui_client.engine.outgoing import text_content


def test_plain_text_has_no_formatted_body():
    assert text_content("hello there") == {"msgtype": "m.text", "body": "hello there"}
    assert "formatted_body" not in text_content("two\nlines")
    assert "formatted_body" not in text_content("a < b & c")


def test_markdown_is_rendered():
    content = text_content("**bold** and `code`")
    assert content["format"] == "org.matrix.custom.html"
    assert content["formatted_body"] == "<strong>bold</strong> and <code>code</code>"
    assert content["body"] == "**bold** and `code`"


def test_raw_html_from_the_user_is_escaped_not_passed_through():
    content = text_content("**x** <script>alert(1)</script>")
    assert "<script>" not in content["formatted_body"]
    assert "&lt;script&gt;" in content["formatted_body"]


def test_emote_msgtype():
    assert text_content("waves", msgtype="m.emote")["msgtype"] == "m.emote"
