"""The passphrase-protected key export format, checked against nio's independent implementation."""

from __future__ import annotations

import json

import pytest
import vodozemac
from nio.crypto import key_export as nio_export
from tui_client.engine.crypto.key_export import (
    ExportedKey,
    KeyExportError,
    decrypt_export,
    encrypt_export,
    export_entries,
    parse_export_entries,
)
from tui_client.engine.crypto.megolm import MegolmKeyError, import_exported

ROUNDS = 1000  # keep unit tests fast; the format stores the count


def test_our_file_opens_with_nio_and_nios_with_ours():
    data = b'[{"hello": "world"}]'
    ours = encrypt_export(data, "pass", rounds=ROUNDS)
    inner = ours.strip().removeprefix(nio_export.HEADER).removesuffix(nio_export.FOOTER).replace("\n", "")
    assert nio_export.decrypt(inner, "pass") == data
    theirs = nio_export.HEADER + "\n" + nio_export.encrypt(data, "pass", count=ROUNDS) + "\n" + nio_export.FOOTER
    assert decrypt_export(theirs, "pass") == data


def test_wrong_passphrase_damage_and_hostile_round_counts():
    text = encrypt_export(b"[]", "right", rounds=ROUNDS)
    with pytest.raises(KeyExportError, match="wrong passphrase"):
        decrypt_export(text, "wrong")
    with pytest.raises(KeyExportError, match="not a key export file"):
        decrypt_export("nothing here", "right")
    with pytest.raises(KeyExportError, match="bad base64"):
        decrypt_export(nio_export.HEADER + "\n***\n" + nio_export.FOOTER, "right")
    with pytest.raises(KeyExportError, match="too short"):
        decrypt_export(nio_export.HEADER + "\nAQID\n" + nio_export.FOOTER, "right")
    import base64

    raw = bytearray(base64.b64decode("".join(text.strip().splitlines()[1:-1])))
    raw[33:37] = (2**32 - 1).to_bytes(4, "big")
    evil = nio_export.HEADER + "\n" + base64.b64encode(bytes(raw)).decode() + "\n" + nio_export.FOOTER
    with pytest.raises(KeyExportError, match="refusing"):
        decrypt_export(evil, "right")
    raw[0] = 2
    v2 = nio_export.HEADER + "\n" + base64.b64encode(bytes(raw)).decode() + "\n" + nio_export.FOOTER
    with pytest.raises(KeyExportError, match="version 2"):
        decrypt_export(v2, "right")


def exported(group: vodozemac.GroupSession, shareable: bool) -> ExportedKey:
    inbound = vodozemac.InboundGroupSession(group.session_key)
    return ExportedKey("!r:x", "curve", inbound.session_id, inbound.export_at(0).to_base64(), "ed", (), shareable)


def test_entries_round_trip_with_the_shareable_flag():
    group = vodozemac.GroupSession()
    [entry] = export_entries([exported(group, True)])
    assert entry["org.matrix.msc3061.shared_history"] is True
    assert entry["session_key"].startswith("AQAAAA")
    keys, skipped = parse_export_entries(json.dumps([entry, {"junk": 1}, "x"]).encode())
    assert skipped == 2 and keys[0].shared_history
    assert import_exported(keys[0].session_key, keys[0].session_id).session_id == group.session_id
    # Element writes "m.shared_history"; both spellings are read.
    keys, _ = parse_export_entries(json.dumps([{**entry, "org.matrix.msc3061.shared_history": None, "m.shared_history": True}]).encode())
    assert keys[0].shared_history


def test_a_key_that_is_not_its_session_is_refused():
    a, b = vodozemac.GroupSession(), vodozemac.GroupSession()
    [entry] = export_entries([exported(a, False)])
    entry["session_key"] = exported(b, False).session_key
    keys, _ = parse_export_entries(json.dumps([entry]).encode())
    with pytest.raises(MegolmKeyError, match="belongs to another session"):
        import_exported(keys[0].session_key, keys[0].session_id)


def test_not_json_or_not_a_list():
    with pytest.raises(KeyExportError, match="not valid JSON"):
        parse_export_entries(b"{nope")
    with pytest.raises(KeyExportError, match="not a list"):
        parse_export_entries(b'{"a": 1}')
