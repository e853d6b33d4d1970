"""Leading spaces a user types are kept (markdown would drop them in a paragraph)."""

from __future__ import annotations

from tui_client.engine.outgoing import text_content


def test_leading_spaces_of_plain_text_are_sent_as_typed():
    assert text_content("  indented") == {"msgtype": "m.text", "body": "  indented"}
    assert text_content("list:\n  one\n  two") == {"msgtype": "m.text", "body": "list:\n  one\n  two"}


def test_markdown_with_leading_spaces_is_still_markdown():
    content = text_content("  **bold**")
    assert content["formatted_body"] == "<strong>bold</strong>" and content["body"] == "  **bold**"
    assert text_content("    code")["formatted_body"].startswith("<pre><code>")
