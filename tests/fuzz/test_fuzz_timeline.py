"""Room events as the timeline shows them: nio parses a hostile event dict, the engine turns
it into a `TimelineItem`, and the TUI and the CLI render it. Nothing raises, and nothing that
reaches the terminal can act on it (no control character, no lone surrogate, strict UTF-8),
whatever the bodies, formatted bodies, relations, names, timestamps and ids hold."""

from __future__ import annotations

import json

from hypothesis import event, given
from hypothesis import strategies as st
from nio.events import Event

from tests.fuzz.profile import counted, examples
from tests.fuzz.shown import Context, assert_terminal_safe, shown
from tests.fuzz.strategies import HUGE_INTS, hostile_text, mutated
from tui_client.engine.models import KeyProvenance, TimelineItem
from tui_client.engine.timeline.convert import item_from_event
from tui_client.safe_text import clean, clean_id, clean_log, clean_name, json_text, one_line, safe_link
from tui_client.ui.formatting import MAX_CHARS, body_content, html_to_content
from tui_client.engine.outgoing import text_content

ROOM = "!room:localhost"
BASE = {"event_id": "$event:localhost", "sender": "@alice:localhost", "origin_server_ts": 1_700_000_000_000,
        "room_id": ROOM, "unsigned": {"age": 5}}
HTML = ('<mx-reply><blockquote>quoted</blockquote></mx-reply><p><b>bold</b> <a href="https://example.org">link</a>'
        '</p><ol start="3"><li>one</li><li><code>two</code></li></ol><pre>x\ny</pre><img alt="pic"><br>'
        '<blockquote>q</blockquote><del>old</del><script>alert(1)</script>')
SEEDS = [
    {**BASE, "type": "m.room.message", "content": {"msgtype": "m.text", "body": "hello **world**",
                                                   "format": "org.matrix.custom.html", "formatted_body": HTML}},
    {**BASE, "type": "m.room.message", "content": {"msgtype": "m.emote", "body": "waves"}},
    {**BASE, "type": "m.room.message", "content": {"msgtype": "m.notice", "body": "> <@bob:x> quoted\n\nreply",
                                                   "m.relates_to": {"m.in_reply_to": {"event_id": "$other"}}}},
    {**BASE, "type": "m.room.message", "content": {"msgtype": "m.text", "body": "* edited", "m.new_content": {
        "msgtype": "m.text", "body": "edited"}, "m.relates_to": {"rel_type": "m.replace", "event_id": "$e"}}},
    {**BASE, "type": "m.room.message", "content": {"msgtype": "m.image", "body": "cat.png", "url": "mxc://x/y",
                                                   "info": {"w": 10, "h": 10, "mimetype": "image/png"}}},
    {**BASE, "type": "m.reaction", "content": {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$e",
                                                                "key": "👍"}}},
    {**BASE, "type": "m.room.member", "state_key": "@bob:localhost",
     "content": {"membership": "join", "displayname": "Bob", "avatar_url": "mxc://x/y"},
     "unsigned": {"prev_content": {"membership": "invite"}}},
    {**BASE, "type": "m.room.member", "state_key": "@bob:localhost", "content": {"membership": "leave",
                                                                                  "reason": "bye"}},
    {**BASE, "type": "m.room.name", "state_key": "", "content": {"name": "Project Aurora"}},
    {**BASE, "type": "m.room.topic", "state_key": "", "content": {"topic": "the topic"}},
    {**BASE, "type": "m.room.create", "state_key": "", "content": {"creator": "@alice:localhost", "room_version": "10"}},
    {**BASE, "type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}},
    {**BASE, "type": "m.room.history_visibility", "state_key": "", "content": {"history_visibility": "shared"}},
    {**BASE, "type": "m.room.encrypted", "content": {
        "algorithm": "m.megolm.v1.aes-sha2", "sender_key": "A" * 43, "ciphertext": "AwgAEhAAAAAAAAAAAAAAAAAAAAAA",
        "session_id": "B" * 43, "device_id": "DEVICE"}},
    {**BASE, "type": "m.room.encrypted", "content": {"algorithm": "m.olm.v1.curve25519-aes-sha2"}},
]

events = st.one_of(
    st.sampled_from(SEEDS).flatmap(lambda seed: mutated(seed, max_mutations=3)),
    st.sampled_from(SEEDS).flatmap(lambda seed: mutated(seed, max_mutations=2, values=st.sampled_from(HUGE_INTS))),
    # A server (or a federated one) sets the timestamp: any integer JSON can hold.
    st.builds(lambda seed, ts: {**seed, "origin_server_ts": ts}, st.sampled_from(SEEDS),
              st.one_of(st.sampled_from(HUGE_INTS), st.integers())),
)
provenances = st.one_of(st.none(), st.builds(KeyProvenance, hostile_text, st.one_of(st.none(), hostile_text),
                                             st.one_of(st.none(), hostile_text)))
contexts = st.builds(Context, hostile_text, provenances, st.tuples(hostile_text, hostile_text))


def test_every_seed_event_is_shown():
    for seed in SEEDS:
        item = item_from_event(Context(), ROOM, Event.parse_event(seed))
        if item is not None:
            for text in shown(item):
                assert_terminal_safe(text)


@examples(500)
@given(events, contexts)
@counted
def test_a_hostile_event_becomes_a_safe_timeline_item_or_nothing(source, ctx):
    if not isinstance(source, dict):
        source = {"content": source}
    try:
        parsed = Event.parse_event(source)
    except Exception as exc:  # nio's own parser: a failure here is contained by the engine's sync
        event(f"nio raised {type(exc).__name__}")
        return
    item = item_from_event(ctx, ROOM, parsed)
    if item is None:
        event("not shown")
        return
    event(f"shown as {item.kind}")
    assert isinstance(item, TimelineItem)
    for text in shown(item):
        assert_terminal_safe(text)


html_fragments = st.lists(st.one_of(
    hostile_text,
    st.sampled_from(["<b>", "</b>", "<i>", "</i>", "<a href=\"", "\">", "</a>", "<ol start=\"", "<ol>", "</ol>",
                     "<ul>", "</ul>", "<li>", "</li>", "<pre>", "</pre>", "<blockquote>", "</blockquote>", "<br>",
                     "<br/>", "<hr>", "<img alt=\"", "<code>", "</code>", "<mx-reply>", "</mx-reply>", "<script>",
                     "</script>", "<h1>", "</h1>", "<p>", "</p>", "&amp;", "&#27;", "&#x9b;", "&#xd800;", "&#0;",
                     "&#1114112;", "&#99999999999;", "&nbsp;", "<!--", "-->", "<![CDATA[", "]]>", "<", ">", "\"",
                     "javascript:", "https://example.org/", "\x1b]8;;", "<table><tr>", "<del>", "<s>"]),
), max_size=40).map("".join)


@examples(400)
@given(html_fragments, st.one_of(st.none(), hostile_text))
@counted
def test_formatted_bodies_render_to_safe_content(html, body):
    content = html_to_content(html)
    assert_terminal_safe(content.plain, "html_to_content")
    # The cap, plus what closing bidi controls, list markers and quote bars add to it.
    assert len(content.plain) <= 3 * MAX_CHARS
    for span in content.spans:
        assert 0 <= span.start <= span.end <= len(content.plain)
    assert_terminal_safe(body_content(body, html).plain, "body_content")


@examples(400)
@given(hostile_text)
@counted
def test_the_sanitisers_leave_nothing_that_acts_on_a_terminal(text):
    for name, cleaned in (("clean", clean(text)), ("clean_name", clean_name(text)), ("clean_id", clean_id(text)),
                          ("clean_log", clean_log(text)), ("one_line", one_line(text))):
        assert_terminal_safe(cleaned, name)
    assert "\n" not in clean_name(text) and "\n" not in one_line(text)
    link = safe_link(text)
    assert link is None or (link.isprintable() and link.lower().startswith(("http", "mailto:", "matrix:", "mxc:")))
    value = {"v": text, text[:20]: [text]}
    as_json = json_text(value)
    assert_terminal_safe(as_json.replace("\n", " "), "json_text")
    assert json.loads(as_json) == json.loads(json.dumps(value)), "json_text must keep the exact value"


@examples(200)
@given(hostile_text)
@counted
def test_markdown_from_the_composer_renders(text):
    content = text_content(text)
    assert content["body"] == text
    if "formatted_body" in content:
        assert_terminal_safe(html_to_content(content["formatted_body"]).plain, "markdown")
