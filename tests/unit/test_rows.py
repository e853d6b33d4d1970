"""The rows one timeline widget draws (widgets/rows.py): each row wraps, cuts or aligns as it
says, an indent (with a prefix on the first line) starts every line, and the height Textual asks
for is the number of lines drawn."""

from __future__ import annotations

from textual.color import Color
from textual.content import Content
from textual.geometry import Offset
from textual.selection import Selection
from textual.style import Style
from textual.visual import RenderOptions

from tui_client.ui.widgets.rows import Row, Rows


def draw(rows: Rows, width: int) -> list[str]:
    options = RenderOptions(lambda s: Style.parse(s) if isinstance(s, str) else s, {})
    return [strip.text for strip in rows.render_strips(width, None, Style(), options)]


def test_a_message_header_body_and_seen_line_each_keep_their_shape():
    rows = Rows([
        Row(Content("Alice Wonderland  12:34  🔑 shared by Bob"), wrap=False, name="meta"),
        Row(Content("the quick brown fox jumps over the lazy dog"), indent=2, name="body"),
        Row(Content("seen by Carol"), indent=2, wrap=False, align="right", name="seen"),
    ])
    lines = draw(rows, 20)
    assert lines[0] == "Alice Wonderland  1…"  # one line, cut
    assert lines[1:4] == ["  the quick brown", "  fox jumps over the", "  lazy dog"]  # wrapped past the indent
    assert lines[4] == "       seen by Carol"  # to the right
    assert rows.get_height({}, 20) == len(lines) == 5
    assert str(rows).splitlines()[1] == "the quick brown fox jumps over the lazy dog"


def test_a_prefix_starts_the_first_line_and_the_rest_hang_under_the_text():
    rows = Rows([Row(Content("Alice joined the room and set a name"), indent=9, prefix=Content("12:34  · "))])
    assert draw(rows, 24) == ["12:34  · Alice joined", "         the room and", "         set a name"]
    # A prefix wider than its indent is cut, never pushes the text.
    long = Rows([Row(Content("x"), indent=4, prefix=Content("12:34 PM"))])
    assert draw(long, 10) == ["12:…x"]


def test_the_height_follows_what_wraps_and_not_what_is_cut():
    short = Rows([Row(Content("Alice"), wrap=False), Row(Content("hi"), indent=2)])
    renamed = Rows([Row(Content("Alice Wonderland, who has a very long name"), wrap=False),
                    Row(Content("hi"), indent=2)])
    longer = Rows([Row(Content("Alice"), wrap=False), Row(Content("hi " * 40), indent=2)])
    assert len(draw(short, 20)) == len(draw(renamed, 20)) == 2  # a name too long is cut, not wrapped
    assert draw(renamed, 20)[0] == "Alice Wonderland, w…"
    assert len(draw(longer, 20)) > 2


def test_a_mouse_selection_counts_lines_across_rows_and_highlights_only_what_it_covers():
    rows = Rows([Row(Content("Alice  12:34"), wrap=False), Row(Content("first line\nsecond line"), indent=2),
                 Row(Content("👍 1"), indent=2)])
    # From "line" on the body's first line to "second" on its second: lines 1 and 2 of `text`.
    selection = Selection(Offset(6, 1), Offset(6, 2))
    assert selection.extract(rows.text) == "line\nsecond"
    highlight = Style(background=Color.parse("red"))
    options = RenderOptions(lambda s: Style.parse(s) if isinstance(s, str) else s, {}, selection, highlight)
    strips = rows.render_strips(30, None, Style(), options)

    def marked(strip) -> str:
        return "".join(text for text, style, _ in strip if style is not None and style.bgcolor is not None)

    assert [marked(s) for s in strips] == ["", "line", "second", ""]
    # Where the mouse is, Textual reads the text offset from the drawn cells: the body's second
    # line says line 2 of `text`, the reactions line 3.
    offsets = [{style.meta.get("offset") for _, style, _ in s if style is not None and style._meta} for s in strips]
    assert (0, 2) in offsets[2] and (0, 3) in offsets[3] and (0, 0) in offsets[0]
