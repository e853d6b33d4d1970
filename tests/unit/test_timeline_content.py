"""Every kind of content Element sends, in words: notices, emotes, attachments, locations,
stickers, polls and unknown msgtypes, each with its text when it is not understood (pure)."""

from __future__ import annotations

from tests.timeline_events import ALICE, Ctx, decrypted, plain, raw
from tui_client.engine.timeline.content import relation_of, strip_reply_fallback, view_of


def item(content: dict, event_type: str = "m.room.message", *, encrypted: bool = False):
    event = raw(ALICE, event_type, content)
    facts = decrypted(Ctx(), event) if encrypted else plain(Ctx(), event)
    assert facts.item is not None
    return facts.item


def test_notices_and_emotes_keep_their_msgtype_and_html():
    notice = item({"msgtype": "m.notice", "body": "build **green**", "format": "org.matrix.custom.html",
                   "formatted_body": "build <b>green</b>"})
    assert (notice.kind, notice.msgtype, notice.formatted_body) == ("notice", "m.notice", "build <b>green</b>")
    emote = item({"msgtype": "m.emote", "body": "waves"})
    assert (emote.kind, emote.msgtype, emote.body) == ("emote", "m.emote", "waves")


def test_an_encrypted_image_is_an_attachment_with_its_name_type_and_size():
    image = item({"msgtype": "m.image", "body": "cat.png", "info": {"mimetype": "image/png", "size": 1234},
                  "file": {"url": "mxc://x/abc", "key": {"alg": "A256CTR", "k": "kkk"}, "iv": "iv",
                           "hashes": {"sha256": "h"}, "v": "v2"}}, encrypted=True)
    assert image.body == "[image] cat.png" and image.msgtype == "m.image"
    assert (image.attachment.name, image.attachment.mimetype, image.attachment.size, image.attachment.encrypted) == (
        "cat.png", "image/png", 1234, True)
    plain_file = item({"msgtype": "m.file", "body": "notes", "filename": "notes.pdf", "url": "mxc://x/y"})
    assert plain_file.body == "[file] notes.pdf" and not plain_file.attachment.encrypted


def test_a_location_keeps_its_text_description_and_geo_uri():
    location = item({
        "msgtype": "m.location", "body": "Office (geo:51.5,-0.12)", "geo_uri": "geo:51.5,-0.12",
        "org.matrix.msc3488.location": {"uri": "geo:51.5,-0.12", "description": "Office"},
    })
    assert location.body == "Office (geo:51.5,-0.12)"
    assert (location.location.description, location.location.geo_uri) == ("Office", "geo:51.5,-0.12")


def test_a_sticker_is_shown_with_its_description():
    sticker = item({"body": "thumbs up", "url": "mxc://x/s", "info": {"mimetype": "image/webp"}}, "m.sticker")
    assert (sticker.kind, sticker.body, sticker.attachment.mimetype) == ("sticker", "[sticker] thumbs up", "image/webp")
    assert sticker.is_message


def test_an_unknown_msgtype_shows_its_body():
    custom = item({"msgtype": "com.example.weird", "body": "fallback words"})
    assert (custom.body, custom.msgtype) == ("fallback words", "com.example.weird")


def test_a_poll_it_cannot_read_shows_its_fallback_text():
    broken = item({"org.matrix.msc3381.poll.start": {"question": "not an object", "answers": []},
                   "org.matrix.msc1767.text": "What now?\n1. this\n2. that"}, "org.matrix.msc3381.poll.start")
    assert broken.kind == "message" and broken.body == "What now?\n1. this\n2. that"


def test_a_poll_has_at_most_twenty_answers_and_no_duplicate_ids():
    answers = [{"id": f"a{i % 25}", "org.matrix.msc1767.text": f"answer {i}"} for i in range(40)]
    poll = view_of("org.matrix.msc3381.poll.start", {
        "org.matrix.msc3381.poll.start": {"question": {"org.matrix.msc1767.text": "Q"}, "answers": answers,
                                           "max_selections": 99}})
    assert poll is not None and poll.poll is not None
    assert len(poll.poll.answers) == 20 and poll.poll.max_selections == 20


def test_reply_fallbacks_are_stripped_only_when_they_are_fallbacks():
    assert strip_reply_fallback("> <@a:x> quoted\n> more\n\nanswer", None) == ("answer", None)
    assert strip_reply_fallback("> a quote I wrote myself", None) == ("> a quote I wrote myself", None)
    assert strip_reply_fallback("x", "<mx-reply><blockquote>q</blockquote></mx-reply><b>answer</b>") == (
        "x", "<b>answer</b>")


def test_relations_are_read_with_their_shape_checked():
    assert relation_of({"rel_type": "m.thread", "event_id": "$root", "is_falling_back": True,
                        "m.in_reply_to": {"event_id": "$last"}}).reply_to is None
    assert relation_of({"m.in_reply_to": {"event_id": "$q"}}).reply_to == "$q"
    assert relation_of({"rel_type": "m.replace"}) is None
    assert relation_of("junk") is None
