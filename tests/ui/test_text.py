"""Pure text logic of the UI: message bodies (safe against markup injection), composer
commands, and the sentences about invites, sync state and trust."""

from __future__ import annotations

import pytest

from tui_client.engine.models import BundleSummary, Invite, SyncState
from tui_client.engine.outgoing import markdown_to_html
from tui_client.ui import slash_commands
from tui_client.ui.timefmt import TimeFormatter
from tui_client.ui.describe import bundle_line, invite_line, sync_line, trust_line
from tui_client.ui.formatting import MAX_CHARS, body_content, html_to_content

# -- bodies ------------------------------------------------------------------------------------


@pytest.mark.parametrize("body, shown", [
    ("[bold]x[/]", "[bold]x[/]"),
    ("[red]alert[/red] [@click=app.quit]q[/]", "[red]alert[/red] [@click=app.quit]q[/]"),
    ("\x1b[31mred", "red"),  # the whole escape sequence goes, not just its ESC
    ("$accent", "$accent"),
])
def test_plain_bodies_are_never_markup(body: str, shown: str) -> None:
    content = body_content(body, None)
    assert content.plain == shown
    assert not content.spans


def test_markup_inside_html_stays_literal() -> None:
    content = html_to_content("<b>[italic]x[/italic]</b>")
    assert content.plain == "[italic]x[/italic]"
    assert [s.style for s in content.spans] == ["bold"]


def test_markdown_from_our_composer_renders_styles() -> None:
    text = "hello **world** and `code`\n- one\n- two"
    content = body_content(text, markdown_to_html(text))
    assert content.plain == "hello world and code\n• one\n• two"
    styled = {content.plain[s.start:s.end]: s.style for s in content.spans}
    assert styled["world"] == "bold" and styled["code"] == "$text-warning"


def test_replies_quotes_and_hostile_html() -> None:
    html = (
        "<mx-reply><blockquote>quoted original</blockquote></mx-reply>"
        "<blockquote>a quote</blockquote><script>alert(1)</script>"
        '<a href="javascript:alert(1)">bad</a> <a href="https://ok.example">good</a></i></b>'
    )
    content = html_to_content(html)
    assert content.plain == "▌ a quote\nbad good"
    links = [s.style for s in content.spans if not isinstance(s.style, str)]
    assert [link.link for link in links] == ["https://ok.example"]


def test_link_targets_reach_the_terminal_only_when_safe() -> None:
    html = (
        '<a href="https://example.org/\x1b]52;c;cHduZWQ=\x07">osc52</a> '
        '<a href="https://example.org/\x9d0;title\x9c">c1</a> '
        '<a href="file:///etc/passwd">file</a> '
        '<a href="https://exa\u202emple.org">bidi</a> '
        '<a href="mxc://example.org/abc">mxc</a> <a href="matrix:u/alice:example.org">matrix</a> '
        '<a href="MAILTO:a@example.org">mail</a>'
    )
    content = html_to_content(html)
    assert content.plain == "osc52 c1 file bidi mxc matrix mail"
    links = {content.plain[s.start:s.end]: s.style.link for s in content.spans if not isinstance(s.style, str)}
    # A refused target leaves plain text: no link, and no underline that would look like one.
    assert links == {"mxc": "mxc://example.org/abc", "matrix": "matrix:u/alice:example.org",
                     "mail": "MAILTO:a@example.org"}
    assert all(s.style != "underline" for s in content.spans)


def test_html_text_loses_escape_sequences_and_keeps_emoji() -> None:
    content = html_to_content("<b>\x1b]0;title\x07hi\x9b2J</b> 👨‍👩‍👧 <code>\x1b[6n</code> עברית \u202eevil")
    assert content.plain == "hi 👨‍👩‍👧  עברית \u202eevil\u202c"


def test_a_cut_body_still_closes_its_bidi_override() -> None:
    content = body_content("\u202e" + "x" * (MAX_CHARS * 2), None)
    assert content.plain.endswith("\u202c…")
    content = html_to_content("<p>\u202e" + "y" * (MAX_CHARS * 2) + "</p>")
    assert content.plain.endswith("\u202c…")


def test_huge_bodies_are_cut() -> None:
    assert len(body_content("x" * (MAX_CHARS * 3), None).plain) == MAX_CHARS + 1
    assert len(html_to_content("<p>" + "y" * (MAX_CHARS * 3) + "</p>").plain) <= MAX_CHARS + 1


def test_reply_fallback_is_stripped_from_plain_bodies() -> None:
    assert body_content("> <@a:x> original\n> more\n\nmy answer", None).plain == "my answer"


def test_time_formatter_is_pinned_by_its_zone() -> None:
    from datetime import timezone

    fmt = TimeFormatter(timezone.utc)
    ms = 1741079100000  # 2025-03-04 09:05 UTC
    assert (fmt.time(ms), fmt.day(ms), fmt.full(ms)) == ("09:05", "Tuesday 4 March 2025", "2025-03-04 09:05:00")


# -- commands -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello", slash_commands.SendText("hello")),
        ("//shrug", slash_commands.SendText("/shrug")),
        ("/me waves hello", slash_commands.SendText("waves hello", emote=True)),
        ("/invite @bob:example.org", slash_commands.InviteUser("@bob:example.org")),
        ("/join #general:example.org", slash_commands.JoinRoom("#general:example.org")),
        ("/join !abc:example.org", slash_commands.JoinRoom("!abc:example.org")),
        ("/leave", slash_commands.LeaveRoom()),
        ("/visibility world_readable", slash_commands.SetVisibility("world_readable")),
        ("/HELP", slash_commands.CommandHelp()),
    ],
)
def test_commands_parse(text: str, expected: object) -> None:
    assert slash_commands.parse(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("/invite bob", "not a user id"),
        ("/invite", "needs a user id"),
        ("/join general", "not a room alias"),
        ("/visibility everyone", "needs one of: shared, invited, joined, world_readable"),
        ("/me", "needs some text"),
        ("/leave now", "takes no argument"),
        ("/kick @x:y", "unknown command /kick"),
        ("   ", "nothing to send"),
    ],
)
def test_command_mistakes_are_explained(text: str, message: str) -> None:
    with pytest.raises(slash_commands.CommandError, match=message):
        slash_commands.parse(text)


# -- sentences ----------------------------------------------------------------------------------


def _invite(bundle: BundleSummary | None) -> Invite:
    return Invite("!r:x", "Room", "@alice:x", "Alice", True, bundle)


def test_bundle_lines_use_the_engines_words() -> None:
    assert bundle_line(_invite(None)) is None
    waiting = BundleSummary("@alice:x", "waiting", 0, key_count=3, message_count=42)
    assert bundle_line(_invite(waiting)) == "Alice shared the keys to 42 earlier messages"
    assert bundle_line(_invite(waiting)) == waiting.describe("Alice")
    rejected = BundleSummary("@mallory:x", "rejected", 0, detail="bad signature")
    assert bundle_line(_invite(rejected)) == "keys from @mallory:x refused: bad signature"  # not the inviter
    assert invite_line(_invite(None)) == "Alice (@alice:x) invited you"


def test_sync_lines_and_countdown() -> None:
    assert sync_line(SyncState("syncing"), 0) == "● connected"
    retrying = SyncState("retrying", "cannot reach the homeserver", 10.0, 100.0)
    assert sync_line(retrying, 104.2) == "⟳ retrying in 6 s — cannot reach the homeserver"
    assert sync_line(retrying, 200.0) == "⟳ reconnecting… — cannot reach the homeserver"
    assert sync_line(SyncState("logged_out", "log in again"), 0) == "✕ logged out — log in again"


def test_trust_slot() -> None:
    from tui_client.engine.models import OwnTrust

    assert trust_line(None) == "verified: —"
    assert trust_line(True) == "✓ verified by your identity"
    assert trust_line(False) == "✗ not verified by your identity"
    assert trust_line(OwnTrust(True, True, True)) == "✓ verified by your identity"
    assert trust_line(OwnTrust(True, False, False)) == "✗ not verified by your identity"
    assert trust_line(OwnTrust(False, False, False)) == "no cross-signing identity"
    assert trust_line("cross-signed") == "verified: cross-signed"
