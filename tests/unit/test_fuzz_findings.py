"""What the fuzz suite (tests/fuzz) found, each as a plain regression test: the smallest input
that broke a parser of outside input, and what it must do instead."""

from __future__ import annotations

import io
import json
import logging
from datetime import timezone

import pytest
from nio.events import Event

from tui_client.engine.crypto.attachments import AttachmentError, parse_mxc
from tui_client.engine.timeline.convert import MAX_TIMESTAMP_MS, item_from_event
from tui_client.logs import SafeFormatter
from tui_client.safe_text import clean, clean_id, clean_log, clean_name, json_text, one_line
from tui_client.ui.timefmt import TimeFormatter


class _Ctx:
    own_user_id = "@me:x"

    def display_name(self, room_id, user_id):
        return user_id

    def provenance_for(self, room_id, session_id):
        return None

    def describe_failure(self, room_id, event):
        return "unknown", "no key"


def test_parse_mxc_refuses_what_is_not_text_with_its_own_error():
    """test_fuzz_bundle: parse_mxc(None) raised TypeError."""
    for url in (None, 5, ["mxc://a/b"], {"url": "mxc://a/b"}):
        with pytest.raises(AttachmentError):
            parse_mxc(url)  # type: ignore[arg-type]


@pytest.mark.parametrize("surrogate", ["\ud800", "\udc1b", "\udc9b", "\udfff"])
def test_a_lone_surrogate_never_reaches_a_terminal_or_a_log(surrogate):
    """test_fuzz_timeline: a body or name with a lone surrogate (legal as a JSON escape, so any
    sender can put one in an encrypted message) passed the sanitiser. Printing it raised
    UnicodeEncodeError (the CLI crashed, the log handler printed a traceback); in the C locale
    "\\udc9b" went out as the raw C1 byte 0x9b."""
    text = f"a{surrogate}[31mb"
    for cleaned in (clean(text), clean_name(text), clean_log(text), one_line(text)):
        assert cleaned == "a\ufffd[31mb"
        cleaned.encode("utf-8")
    assert clean_id(text).encode("utf-8") and surrogate not in clean_id(text)
    as_json = json_text({"body": text})
    as_json.encode("utf-8")
    assert json.loads(as_json) == {"body": text}, "JSON output keeps the exact value, escaped"

    formatter = SafeFormatter("%(message)s")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "body %s", (text,), None)
    stream = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    stream.write(formatter.format(record))  # raised UnicodeEncodeError before
    stream.flush()


@pytest.mark.parametrize("ts", [2**53, 2**63, 10**30, -1, -(2**53)])
def test_a_timestamp_no_clock_can_show_is_brought_into_range(ts):
    """test_fuzz_timeline: origin_server_ts is set by a server; 2**53 made every front end that
    shows the time raise ValueError ("year 287396 is out of range")."""
    event = Event.parse_event({"event_id": "$e", "sender": "@a:x", "origin_server_ts": ts, "type": "m.room.message",
                               "content": {"msgtype": "m.text", "body": "hi"}})
    item = item_from_event(_Ctx(), "!r:x", event)
    assert 0 <= item.timestamp <= MAX_TIMESTAMP_MS
    TimeFormatter().full(item.timestamp)
    TimeFormatter(tz=timezone.utc).day(item.timestamp)


def test_a_malformed_event_with_a_sender_that_is_not_text_is_shown_as_malformed():
    """test_fuzz_timeline: nio's BadEvent keeps raw values; a numeric sender broke rendering
    (AttributeError: 'int' object has no attribute 'encode')."""
    event = Event.parse_event({"event_id": "$e", "sender": 5, "origin_server_ts": 1, "type": "m.room.message",
                               "content": {"msgtype": "m.text", "body": "hi"}})
    item = item_from_event(_Ctx(), "!r:x", event)
    assert item is None or (item.sender == "?" and isinstance(item.event_type, str))
    odd_id = Event.parse_event({"event_id": 7, "sender": "@a:x", "origin_server_ts": 1, "type": "m.room.message",
                                "content": {"msgtype": "m.text", "body": "hi"}})
    assert item_from_event(_Ctx(), "!r:x", odd_id) is None


DEEP = b"[" * 100_000 + b"]" * 100_000


def test_a_key_file_nested_too_deep_is_refused_as_a_key_file_error():
    """test_fuzz_files: a key export whose JSON nests 100,000 deep raised RecursionError out of
    `import-keys` (a traceback for the user) instead of KeyExportError."""
    from tui_client.engine.crypto.key_export import KeyExportError, parse_export_entries

    with pytest.raises(KeyExportError, match="nested"):
        parse_export_entries(DEEP)


def test_a_saved_session_nested_too_deep_is_refused_with_a_reason(tmp_path):
    """test_fuzz_files: load_session raised RecursionError (no exit code 4, no advice)."""
    from tui_client.engine.session import SessionFileError, load_session

    (tmp_path / "session.json").write_bytes(DEEP)
    with pytest.raises(SessionFileError, match="cannot read the saved session"):
        load_session(tmp_path)


def test_a_config_file_nested_too_deep_is_reported_and_the_defaults_used(tmp_path):
    """test_fuzz_files: tomllib raises RecursionError on deep arrays or inline tables, which
    escaped parse_settings (the client could not start)."""
    from tui_client.config import Settings, load_settings

    for text in ("x = " + "[" * 5000 + "]" * 5000, "x = " + "{a = " * 2000 + "1" + "}" * 2000):
        (tmp_path / "config.toml").write_text(text)
        loaded = load_settings(tmp_path / "config.toml")
        assert loaded.settings == Settings() and any("nested" in p for p in loaded.problems)


@pytest.mark.parametrize("note", [json.dumps({"at": 10**400, "inviter": "@b:x"}), "[" * 5000 + "]" * 5000],
                         ids=["time-overflows-a-float", "nested-too-deep"])
def test_an_unreadable_joined_note_does_not_stop_the_store_migrating(tmp_path, note):
    """test_fuzz_files: migration 2 reads "joined:" notes of the first release; a note whose
    time overflows a float (OverflowError) or nests too deep (RecursionError) aborted the
    migration, and the store could never be opened again."""
    from nio.crypto import OlmAccount
    from nio.store import SqliteStore

    from tui_client.engine.nio.migrations import LATEST, migrate

    nio_store = SqliteStore("@me:x", "DEV", str(tmp_path), "store-key", "crypto.db")
    nio_store.save_account(OlmAccount())
    conn = nio_store.database.connection()
    migrate(conn, upto=1)
    conn.execute("INSERT INTO tc_kv VALUES (?,?)", ("joined:!r:x", note))
    conn.commit()
    migrate(conn)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST
    assert conn.execute("SELECT COUNT(*) FROM tc_kv WHERE key LIKE 'joined:%'").fetchone()[0] == 0


# -- lone surrogates in what is stored (found by the long profile) ----------------------------------


def test_a_withheld_notice_with_a_lone_surrogate_is_ignored_or_stored_cleanly(tmp_path):
    """test_fuzz_announcements (long profile): a plaintext m.room_key.withheld with "\\ud800" in
    its room id raised UnicodeEncodeError out of on_withheld (SQLite takes strict UTF-8)."""
    from tests.forge import random_key
    from tests.fuzz.world import receiver, snapshot

    rx, host = receiver(tmp_path, joined=set())
    before = snapshot(host.client.olm)
    content = {"room_id": "\ud800!room:x", "session_id": random_key(), "code": "m.unverified"}
    assert rx.on_withheld("@a:x", content) is None
    assert snapshot(host.client.olm) == before
    kept = {"room_id": "!room:x", "session_id": random_key(), "code": "m.unverified", "reason": "no\ud800",
            "from_device": "D\udc9b", "sender_key": "\ud800"}
    assert rx.on_withheld("@a:x", kept) == "!room:x"
    record = rx.records.withheld("!room:x", kept["session_id"])
    assert record.reason == "no\ufffd" and record.from_device == "D\ufffd" and record.sender_key is None


def test_a_bundle_whose_withheld_reason_holds_a_lone_surrogate_still_imports():
    """The same in a key bundle's withheld entries: the store step raised inside the import,
    leaving the bundle 'importing' (and failing again at every start)."""
    from tests.forge import random_key
    from tui_client.engine.history_sharing.bundle import parse_bundle

    entry = {"algorithm": "m.megolm.v1.aes-sha2", "code": "m.history_not_shared", "room_id": "!r:x",
             "session_id": random_key(), "reason": "x\ud800", "from_device": "\udc1b"}
    parsed = parse_bundle(json.dumps({"room_keys": [], "withheld": [entry]}).encode(), "!r:x")
    assert parsed.withheld[0].reason == "x\ufffd" and parsed.withheld[0].from_device == "\ufffd"


def test_a_key_file_entry_with_a_lone_surrogate_is_skipped_not_fatal():
    """Key files: "\\ud800" in sender_claimed_keys.ed25519 (or a room id, or the forwarding
    chain) made import-keys raise UnicodeEncodeError while storing."""
    from tui_client.engine.crypto.key_export import parse_export_entries

    good = {"algorithm": "m.megolm.v1.aes-sha2", "room_id": "!r:x", "sender_key": "k", "session_id": "s",
            "session_key": "AQ", "sender_claimed_keys": {"ed25519": "e"}}
    bad = [{**good, "sender_claimed_keys": {"ed25519": "\ud800"}}, {**good, "room_id": "!r\udc9b:x"},
           {**good, "forwarding_curve25519_key_chain": ["\udfff"]}]
    keys, skipped = parse_export_entries(json.dumps([good, *bad]).encode())
    assert len(keys) == 1 and skipped == 3


@pytest.mark.parametrize("where", ["room_id", "keys.ed25519"])
def test_a_room_key_with_a_lone_surrogate_is_ignored_not_kept_in_memory_only(where):
    """test_fuzz_olm: an Olm-encrypted m.room_key whose room id (or claimed key) held an escaped
    lone surrogate was merged into memory, then failed to store (UnicodeEncodeError): it
    decrypted until the next restart, then was gone."""
    from tests.fuzz.strategies import to_json_bytes
    from tests.fuzz.test_fuzz_olm import Channel, _keys, _stored_keys

    ch = Channel()
    payload, session_id = ch.room_key()
    if where == "room_id":
        payload["content"]["room_id"] = "\ud800!room:x"
    else:
        payload["keys"]["ed25519"] = "\udc9b"
    ch.bob.handle_to_device_event(ch.to_device(to_json_bytes(payload)))
    assert session_id not in {s for _, s in _keys(ch.bob)}
    assert _keys(ch.bob) == _stored_keys(ch.bob)
