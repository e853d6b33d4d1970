"""The one sanitiser for terminal and log output: hostile sequences go, readable text stays."""

from __future__ import annotations

import json
import re

import pytest

from tui_client.safe_text import clean, clean_id, clean_log, clean_name, json_text, one_line, safe_link

OSC52 = "\x1b]52;c;cHduZWQ=\x07"
# Anything a terminal would act on: ESC, BEL, C0 but tab/newline, DEL, C1.
TERMINAL_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

HOSTILE = [
    # (input, what clean() shows)
    ("\x1b[31mred\x1b[0m", "red"),
    ("\x1b[2J\x1b[Hcleared", "cleared"),
    ("a\x1b]0;window title\x07b", "ab"),
    (f"copy{OSC52}me", "copyme"),
    ("osc with ST\x1b]8;;http://x\x1b\\ text", "osc with ST text"),
    ("unterminated \x1b]52;c;AAAA", "unterminated "),
    ("unterminated osc ends at the line\x1b]2;x\nnext", "unterminated osc ends at the line\nnext"),
    ("dcs \x1bP1$r\x1b\\ and apc \x1b_x\x1b\\ done", "dcs  and apc  done"),
    ("8-bit csi \x9b31m and osc \x9d52;c;x\x9c end", "8-bit csi  and osc  end"),
    ("nel\x85 and other c1 \x80\x9f", "nel and other c1 "),
    ("bell\x07 backspace\x08 del\x7f nul\x00", "bell backspace del nul"),
    ("reset \x1bc and charset \x1b(B ok", "reset  and charset  ok"),
    ("lone escape at the end\x1b", "lone escape at the end"),
    ("csi cut short \x1b[12", "csi cut short "),
    ("carriage\rreturn", "carriage\nreturn"),
]


@pytest.mark.parametrize("text, expected", HOSTILE)
def test_clean_removes_whole_escape_sequences(text: str, expected: str) -> None:
    assert clean(text) == expected
    assert not TERMINAL_CONTROL.search(clean(text))
    assert not TERMINAL_CONTROL.search(clean_name(text))
    assert not TERMINAL_CONTROL.search(clean_log(text))


@pytest.mark.parametrize("text", [
    "hello, world", "naïve café — “quotes” ‘and’ …", "日本語のテキスト", "עברית ועוד", "مرحبا بالعالم",
    "emoji 🎉👍🏽 and families 👨‍👩‍👧 ❤️‍🔥 🏳️‍🌈 and flags 🇫🇷 🏴󠁧󠁢󠁥󠁮󠁧󠁿", "keycap 1️⃣", "Persian می‌خواهم",
    "Devanagari क्‍ष", "math ∑ √ ∞ and box ─│┌", "tab\tand\nnewline",
])
def test_ordinary_unicode_and_emoji_survive_in_bodies(text: str) -> None:
    assert clean(text) == text


@pytest.mark.parametrize("name", [
    "Alice", "Zoë", "李小龙", "👨‍👩‍👧 family", "❤️‍🔥", "Persian می‌خواهم", "England 🏴󠁧󠁢󠁥󠁮󠁧󠁿",
])
def test_ordinary_names_are_unchanged(name: str) -> None:
    assert clean_name(name) == name


@pytest.mark.parametrize("name, shown", [
    ("\u202eecilA", "\\u202eecilA"),  # right-to-left override: would read "Alice"
    ("al\u200bice", "al\\u200bice"),  # zero-width space
    ("al\u200dice", "al\\u200dice"),  # a joiner between ASCII letters joins nothing
    ("\u200dalice", "\\u200dalice"),
    ("bob\u2066x\u2069", "bob\\u2066x\\u2069"),
    ("\ufeffcarol\u2060", "\\ufeffcarol\\u2060"),
    ("ad\u00admin", "ad\\xadmin"),
    ("tag\U000e0041s", "tag\\U000e0041s"),  # tag characters outside a flag
    ("\u3164", "\\u3164"),  # Hangul filler: a "blank" name
    ("two\nlines\tand tab", "two lines and tab"),
    ("\x1b[1mBold\x1b[0m \u202e", "Bold \\u202e"),
])
def test_names_show_bidi_and_invisible_characters(name: str, shown: str) -> None:
    assert clean_name(name) == shown


@pytest.mark.parametrize("value, shown", [
    ("ABCDEFGHIJ", "ABCDEFGHIJ"),
    ("@alice:example.org", "@alice:example.org"),
    ("DEV\x1b[31mICE", "DEV\\x1b[31mICE"),  # shown, not silently removed
    ("sess\x9d52;c;x\x07", "sess\\x9d52;c;x\\x07"),
    ("a\u200db", "a\\u200db"),
    ("\u202eDIVECE", "\\u202eDIVECE"),
    ("nb\u00a0sp", "nb\\xa0sp"),
    ("tab\tnl\n", "tab\\x09nl\\x0a"),
])
def test_ids_show_every_unprintable_character(value: str, shown: str) -> None:
    assert clean_id(value) == shown
    assert not TERMINAL_CONTROL.search(clean_id(value))


def test_ids_that_differ_invisibly_never_look_the_same() -> None:
    assert clean_id("ABC") != clean_id("A\u200bBC") != clean_id("A\x1bBC")


def test_bidi_in_a_body_cannot_leak_past_its_line() -> None:
    body = "price \u202e001 KCUS\nsecond line \u2067rtl"
    out = clean(body)
    first, second = out.split("\n")
    assert first == "price \u202e001 KCUS\u202c"
    assert second == "second line \u2067rtl\u2069"
    # Balanced text is left alone.
    assert clean("a \u2067b\u2069 c") == "a \u2067b\u2069 c"
    # Nested: an isolate closes what was opened inside it.
    assert clean("\u2067x\u202ey\u2069z\u202b") == "\u2067x\u202ey\u2069z\u202b\u202c"
    assert clean("one line \u202e", multiline=False) == "one line \u202e\u202c"


def test_single_line_clean_keeps_text_on_one_line() -> None:
    assert clean("a\nb\tc\u2028d\u2029e\r\nf", multiline=False) == "a b c d e f"


@pytest.mark.parametrize("href", [
    "https://example.org/path?q=1#frag", "http://127.0.0.1:8008/", "HTTPS://EXAMPLE.ORG",
    "mailto:alice@example.org", "matrix:u/alice:example.org", "mxc://example.org/abc",
    "https://例え.jp/パス",
])
def test_safe_links_pass(href: str) -> None:
    assert safe_link(href) == href
    assert safe_link(f"  {href}\n") == href


@pytest.mark.parametrize("href", [
    "javascript:alert(1)", "file:///etc/passwd", "data:text/html,x", "ftp://example.org", "//example.org",
    "https://example.org/\x1b]52;c;cHduZWQ=\x07", "https://example.org/\x9d52;c;x\x9c",
    "https://example.org/a b", "https://exa\u202emple.org", "https://example.org/\u200b",
    "https://example.org/\x00", "http://", "mailto:", "", None, "https://x/" + "a" * 5000,
])
def test_unsafe_links_are_refused(href: str | None) -> None:
    assert safe_link(href) is None


def test_json_text_escapes_c1_and_invisible_but_keeps_unicode_readable() -> None:
    data = {"name": "Zoë 🎉 日本", "evil": "a\x1b[31m\x9b2J\x85\u2028\u202e\u200bb", "family": "👨‍👩‍👧"}
    text = json_text(data)
    assert json.loads(text) == data  # the value is unchanged
    assert not TERMINAL_CONTROL.search(text)
    for raw in ("\u2028", "\u202e", "\u200b"):
        assert raw not in text
    assert "\\u009b" in text and "\\u202e" in text and "\\u001b" in text
    assert "Zoë 🎉 日本" in text and "👨‍👩‍👧" in text


def test_log_messages_stay_on_one_line() -> None:
    forged = "hi\n2025-01-01 00:00:00 INFO    tui_client: logged in as @admin\x1b[8m"
    out = one_line(forged)
    assert "\n" not in out and "\x1b" not in out
    assert out.startswith("hi\\n2025-01-01")
    # A traceback keeps its lines.
    assert clean_log("Traceback:\n  File x\n\x1b]52;c;x\x07Error") == "Traceback:\n  File x\nError"
