"""One sanitiser for everything that reaches a terminal or a log.

Room names, topics, display names, device names, message bodies, link targets, session and
device ids all come from other people. Written raw to a terminal, an ESC or C1 byte in them is a
command (OSC 52 sets the clipboard, CSI moves the cursor or clears the screen), and a bidi
override or an invisible character makes a name read as someone else's. The front ends (TUI,
CLI, logs, notifications) pass such text through one of these functions at the point where it
is shown; nothing here imports Textual, Rich or nio.

- `clean(text)`: free text such as a message body or a topic. Escape sequences are removed
  whole (not just their ESC), as are C0 controls (but newline and tab when `multiline`), DEL and
  C1 controls. Bidi controls stay (right-to-left writers use them) but cannot leak past the end
  of the text or of a line: any left open are closed there.
- `clean_name(text)`: a name or a label. As `clean`, on one line, and every bidi control and
  invisible character is shown escaped (`\\u202e`), so "al\\u200bice" cannot pass for "alice".
  A zero-width joiner or non-joiner stays only between two non-ASCII characters, where emoji
  sequences (👨‍👩‍👧) and scripts such as Persian or Devanagari need it.
- `clean_id(text)`: an identifier (user, device, session, room, event id). Every character that
  is not plainly printable, escape sequences included, is shown escaped rather than removed, so
  two ids that differ only invisibly never look the same.
- `safe_link(href)`: a link target that may be handed to the terminal (OSC 8), or None.
- `json_text(data)`: JSON for a terminal: readable Unicode, but C1 controls, line and paragraph
  separators, bidi controls and invisible characters written as `\\uXXXX` escapes (the parsed
  value is unchanged).
"""

from __future__ import annotations

import json
import re
from typing import Any

# ECMA-48 sequences, 7-bit and 8-bit: CSI; OSC/DCS/SOS/PM/APC strings up to their terminator
# (ST, BEL, CAN or SUB; a newline or the end of the text when unterminated); any other ESC
# sequence; a lone ESC.
_ESCAPE_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x18\x1a\x1b\x9c\n]*(?:\x07|\x18|\x1a|\x1b\\|\x9c)?"
    r"|\x1b[\x20-\x2f]*[\x30-\x7e]?"
)
# What is left after the sequences: C0 but tab and newline, DEL, C1.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Lone surrogates (JSON's "\ud800" escapes decode to them): no terminal encoding can write one
# (strict UTF-8 raises; with surrogateescape, as in the C locale, "\udc9b" goes out as the
# C1 byte 0x9b). They become U+FFFD, as undecodable text does everywhere else.
_SURROGATES = re.compile("[\ud800-\udfff]")
_LINE_BREAKS = re.compile(r"\r\n|[\r\x0b\x0c\u2028\u2029]")

_BIDI_EMBEDDINGS = {"\u202a", "\u202b", "\u202d", "\u202e"}  # LRE RLE LRO RLO, closed by PDF
_BIDI_ISOLATES = {"\u2066", "\u2067", "\u2068"}  # LRI RLI FSI, closed by PDI
_PDF, _PDI = "\u202c", "\u2069"
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
JOINERS = frozenset("\u200c\u200d")  # zero-width non-joiner and joiner
# Characters that show nothing (or only a blank) and so can hide inside a name.
INVISIBLE = frozenset(
    "\u00ad\u034f\u115f\u1160\u17b4\u17b5\u180e\u200b\u2060\u2061\u2062\u2063\u2064"
    "\u206a\u206b\u206c\u206d\u206e\u206f\u3164\ufeff\uffa0\ufff9\ufffa\ufffb"
) | frozenset(chr(c) for c in range(0x1D173, 0x1D17B)) | frozenset(chr(c) for c in range(0xE0000, 0xE0080))
_TAGS = frozenset(chr(c) for c in range(0xE0020, 0xE0080))
_BLACK_FLAG = "\U0001f3f4"  # 🏴 + tag characters spell subdivision flags such as England's

_LINK = re.compile(r"(?:https?://[^/\s]|mailto:[^\s]|matrix:[^\s]|mxc://[^/\s])", re.IGNORECASE)
MAX_LINK = 2048

_JSON_UNSAFE = re.compile(
    "[\x7f-\x9f\u2028\u2029\u061c\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ud800-\udfff]"
)


def escaped(ch: str) -> str:
    """A character written so that it is visible: `\\x1b`, `\\u202e`, `\\U000e0041`."""
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _strip_controls(text: str, multiline: bool) -> str:
    text = _ESCAPE_SEQUENCE.sub("", text)
    text = _LINE_BREAKS.sub("\n", text)
    if not multiline:
        text = text.replace("\n", " ").replace("\t", " ")
    return _SURROGATES.sub("\ufffd", _CONTROLS.sub("", text))


def _close_bidi(line: str) -> str:
    """`line` with any bidi embedding, override or isolate it opens closed at its end."""
    if not any(ch in BIDI_CONTROLS for ch in line):
        return line
    stack: list[str] = []
    for ch in line:
        if ch in _BIDI_EMBEDDINGS:
            stack.append(_PDF)
        elif ch in _BIDI_ISOLATES:
            stack.append(_PDI)
        elif ch == _PDF:
            if stack and stack[-1] == _PDF:
                stack.pop()
        elif ch == _PDI:
            # A PDI closes the last open isolate and every embedding opened inside it.
            if _PDI in stack:
                while stack.pop() != _PDI:
                    pass
    return line + "".join(reversed(stack))


def clean(text: str | None, *, multiline: bool = True) -> str:
    """Free text (a message body, a topic, a reason) safe to print literally."""
    if not text:
        return ""
    text = _strip_controls(text, multiline)
    if any(ch in BIDI_CONTROLS for ch in text):
        text = "\n".join(_close_bidi(line) for line in text.split("\n"))
    return text


def _is_joined(text: str, index: int) -> bool:
    """Whether the joiner at `index` sits between two non-ASCII, non-blank characters."""
    if index == 0 or index == len(text) - 1:
        return False
    before, after = text[index - 1], text[index + 1]
    return all(ord(c) > 0x7F and not c.isspace() and c not in BIDI_CONTROLS and c not in INVISIBLE
               and c not in JOINERS for c in (before, after))


def _is_flag_tag(text: str, index: int) -> bool:
    """Tag characters after 🏴 spell a subdivision flag (🏴󠁧󠁢󠁥󠁮󠁧󠁿): keep them there."""
    if text[index] not in _TAGS and text[index] != "\U000e007f":
        return False
    start = index
    while start > 0 and text[start - 1] in _TAGS:
        start -= 1
    return start > 0 and text[start - 1] == _BLACK_FLAG


def reveal_invisible(text: str) -> str:
    """Bidi controls and invisible characters made visible (`\\u202e`); joiners kept where
    they join two non-ASCII characters, flag tags kept after 🏴."""
    if not any(ch in BIDI_CONTROLS or ch in INVISIBLE or ch in JOINERS for ch in text):
        return text
    out = []
    for index, ch in enumerate(text):
        if ch in BIDI_CONTROLS:
            out.append(escaped(ch))
        elif ch in JOINERS:
            out.append(ch if _is_joined(text, index) else escaped(ch))
        elif ch in INVISIBLE:
            out.append(ch if _is_flag_tag(text, index) else escaped(ch))
        else:
            out.append(ch)
    return "".join(out)


def clean_name(text: str | None, *, multiline: bool = False) -> str:
    """A name or a label (room, person, device, a sentence naming them) safe to show."""
    if not text:
        return ""
    return reveal_invisible(_strip_controls(text, multiline))


def clean_id(text: str | None) -> str:
    """An identifier with every unprintable or invisible character shown escaped."""
    if not text:
        return ""
    if text.isprintable() and not any(ch in INVISIBLE or ch in JOINERS for ch in text):
        return text
    return "".join(
        escaped(ch) if not ch.isprintable() or ch in INVISIBLE or ch in JOINERS else ch for ch in text
    )


def safe_link(href: str | None) -> str | None:
    """`href` if it may be handed to the terminal as a link target: an http(s), mailto,
    matrix or mxc URI of printable, non-blank characters. Otherwise None (show it as text)."""
    if not href:
        return None
    href = href.strip(" \t\n\r\f")
    if not href or len(href) > MAX_LINK or not _LINK.match(href):
        return None
    if not href.isprintable() or any(ch.isspace() or ch in INVISIBLE or ch in JOINERS for ch in href):
        return None
    return href


def clean_log(text: str) -> str:
    """A log record's text: sequences and controls removed, invisible characters shown; the
    newlines of a traceback stay."""
    return reveal_invisible(_strip_controls(text, True))


def one_line(text: str) -> str:
    """A log message on one line: a newline in it is written `\\n`, so that no one can forge
    another log line with a display name or a room topic."""
    return clean_log(text.replace("\r\n", "\n").replace("\r", "\n")).replace("\n", "\\n")


def json_text(data: Any, *, indent: int | None = 2, sort_keys: bool = False) -> str:
    """JSON readable in a terminal and safe to print there (see the module docstring)."""
    text = json.dumps(data, indent=indent, sort_keys=sort_keys, ensure_ascii=False, default=str)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
