"""Files from outside: key export files (Element's format) imported into a real profile,
`config.toml`, the saved session, and stores written by older builds. Each is read or refused
with its own error and a reason; a refused file changes nothing stored, and no file is ever
rewritten because it was bad."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import tempfile
from dataclasses import fields
from pathlib import Path

import vodozemac
from hypothesis import assume, event, given
from hypothesis import strategies as st

from tests.forge import forged_export, random_key
from tests.fuzz.profile import counted, examples
from tests.fuzz.strategies import (
    HUGE_INTS,
    damaged_bytes,
    deep_json_text,
    hostile_text,
    json_values,
    mutated,
    to_json_bytes,
)
from tests.fuzz.world import scratch, snapshot
from tui_client.config import _VALIDATORS, Settings, load_settings, parse_settings
from tui_client.engine.nio.client import EngineClient
from tui_client.engine.crypto.key_export import (
    MAX_ROUNDS,
    KeyExportError,
    decrypt_export,
    encrypt_export,
    parse_export_entries,
)
from tui_client.engine.crypto.megolm import MegolmKeyError, import_exported
from tui_client.engine.engine import Engine, EngineError
from tui_client.engine.errors import StoreError
from tui_client.engine.nio.migrations import LATEST, migrate
from tui_client.engine.session import SessionFileError, SessionInfo, load_session, save_session
from tui_client.records import made

ROOM = "!room:localhost"
MEGOLM = "m.megolm.v1.aes-sha2"
PASSPHRASE = "correct horse"


def _entry(room_id: str = ROOM, index: int = 0) -> dict:
    group = vodozemac.GroupSession()
    for _ in range(index):
        group.encrypt(b"x")
    inbound = vodozemac.InboundGroupSession(group.session_key)
    return {"algorithm": MEGOLM, "room_id": room_id, "sender_key": random_key(), "session_id": inbound.session_id,
            "session_key": inbound.export_at(index).to_base64(), "sender_claimed_keys": {"ed25519": random_key()},
            "forwarding_curve25519_key_chain": [], "org.matrix.msc3061.shared_history": True}


ENTRIES = [_entry(), _entry(index=2), _entry("!other:localhost")]
ENTRIES.append({**ENTRIES[0], "session_key": forged_export(ENTRIES[0]["session_id"]), "room_id": "!third:localhost"})
EXPORT = encrypt_export(json.dumps(ENTRIES).encode(), PASSPHRASE, rounds=2)


@st.composite
def export_files(draw: st.DrawFn) -> str:
    how = draw(st.sampled_from(["text", "bytes", "plaintext", "plaintext", "random"]))
    if how == "text":  # the armoured text damaged (markers, line breaks, base64)
        return draw(damaged_bytes(EXPORT.encode(), max_edits=3)).decode("utf-8", "replace")
    if how == "bytes":  # the binary body damaged, armour intact: version, salt, IV, rounds, MAC
        import base64

        inner = "".join(EXPORT.strip().splitlines()[1:-1])
        raw = draw(damaged_bytes(base64.b64decode(inner), max_edits=2))
        assume(len(raw) < 37 or not 1000 < int.from_bytes(raw[33:37], "big") <= MAX_ROUNDS)
        body = base64.b64encode(raw).decode()
        return "-----BEGIN MEGOLM SESSION DATA-----\n" + body + "\n-----END MEGOLM SESSION DATA-----\n"
    if how == "plaintext":  # well encrypted, hostile JSON inside
        data = draw(st.one_of(
            mutated(ENTRIES, max_mutations=4).map(to_json_bytes),
            st.builds(deep_json_text, st.integers(500, 50_000)).map(str.encode),
            json_values().map(to_json_bytes),
        ))
        return encrypt_export(data, PASSPHRASE, rounds=1)
    return draw(hostile_text)


def _offline_profile() -> Path:
    """A logged-in profile whose server is never asked anything (import needs none)."""
    directory = scratch("keyfile-")
    info = SessionInfo("http://127.0.0.1:9", "@me:localhost", "MYDEVICE", "token", SessionInfo.new_store_key())
    client = EngineClient(info.homeserver, info.user_id, info.device_id, str(directory), info.store_key)
    client.restore_login(info.user_id, info.device_id, info.access_token)
    save_session(directory, info)
    asyncio.run(client.close())
    return directory


_PROFILE: Path | None = None


def _import(text: str, profile: Path | None = None) -> tuple[tuple[int, int, int] | None, str | None, dict, dict]:
    """Import `text` as a key file into the fuzz profile: (result, error, store before, after)."""
    global _PROFILE
    if profile is None:
        _PROFILE = _PROFILE or _offline_profile()
        profile = _PROFILE
    path = profile / "keys.txt"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")

    async def run():
        engine = Engine("fuzz", profile_dir=profile)
        try:
            assert await engine.open()
            before = snapshot(engine.client.olm)
            try:
                result, error = await engine.import_keys(path, PASSPHRASE), None
            except EngineError as exc:
                result, error = None, str(exc)
            return result, error, before, snapshot(engine.client.olm)
        finally:
            await engine.close()

    return asyncio.run(run())


@examples(120)
@given(export_files())
@counted
def test_a_key_file_imports_or_is_refused_and_a_refused_one_changes_nothing(text):
    result, error, before, after = _import(text)
    if error is not None:
        event("refused")
        assert error and after == before, "a refused key file changed the store"
        return
    imported, known, skipped = result
    event("imported" if imported else "nothing new")
    added = {row for row in after["memory"]} - {row for row in before["memory"]}
    assert len(added) <= imported
    for room_id, _, session_id, _ in added:
        assert room_id in (ROOM, "!other:localhost", "!third:localhost") or isinstance(room_id, str)


def test_the_seed_key_file_imports():
    result, error, _, _ = _import(EXPORT, _offline_profile())
    assert error is None and result == (4, 0, 0), (result, error)


@examples(300)
@given(export_files())
@counted
def test_key_file_parsers_raise_only_key_export_error(text):
    try:
        data = decrypt_export(text, PASSPHRASE)
        keys, skipped = parse_export_entries(data)
    except KeyExportError as exc:
        event("refused")
        assert str(exc)
        return
    event("parsed")
    for key in keys:
        try:
            session = import_exported(key.session_key, key.session_id)
        except MegolmKeyError:
            continue
        assert session.session_id == key.session_id


# -- config.toml ----------------------------------------------------------------------------------

def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(str(value), repr(value))
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items()) + "}"
    return '""'


FIELDS = [f.name for f in fields(made(Settings))]
toml_lines = st.one_of(
    st.builds(lambda k, v: f"{k} = {_toml_value(v)}", st.sampled_from(FIELDS),
              st.one_of(json_values(6), st.sampled_from(HUGE_INTS), st.sampled_from(["DEBUG", "shared", "f12"]))),
    st.builds(lambda k, v: f"[keys]\n{json.dumps(k)} = {_toml_value(v)}", hostile_text, json_values(4)),
    st.builds(lambda n: "x = " + "[" * n + "]" * n, st.integers(1, 5000)),
    st.builds(lambda n: "x = " + "{a = " * n + "1" + "}" * n, st.integers(1, 2000)),
    hostile_text,
)
configs = st.one_of(st.lists(toml_lines, max_size=6).map("\n".join),
                    damaged_bytes(b'log_level = "DEBUG"\nbundle_max_bytes = 1024\n[keys]\nquit = "ctrl+q"\n')
                    .map(lambda b: b.decode("utf-8", "surrogateescape")))


@examples(300)
@given(configs)
@counted
def test_settings_are_always_usable_and_every_problem_is_reported(text):
    settings, problems = parse_settings(text)
    assert isinstance(settings, Settings) and all(isinstance(p, str) for p in problems)
    for name in FIELDS:
        value = getattr(settings, name)
        assert value == getattr(Settings(), name) or _VALIDATORS[name](value), f"{name}={value!r} got through"
    event("problems" if problems else "clean")


@examples(150)
@given(st.one_of(configs.map(lambda t: t.encode("utf-8", "surrogatepass")), st.binary(max_size=300)))
@counted
def test_a_config_file_is_read_or_reported_and_never_rewritten(data):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.toml"
        path.write_bytes(data)
        loaded = load_settings(path)
        assert isinstance(loaded.settings, Settings)
        assert path.read_bytes() == data, "a bad config file was rewritten"


# -- session.json -------------------------------------------------------------------------------------

SESSION = {"homeserver": "https://matrix.example.org", "user_id": "@me:example.org", "device_id": "DEVICE",
           "access_token": "syt_token", "store_key": SessionInfo.new_store_key()}


@examples(300)
@given(st.one_of(mutated(SESSION, max_mutations=3).map(to_json_bytes), damaged_bytes(to_json_bytes(SESSION)),
                 st.builds(deep_json_text, st.integers(500, 100_000)).map(str.encode), st.binary(max_size=100)))
@counted
def test_a_saved_session_loads_or_is_refused_with_a_reason(data):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "session.json"
        path.write_bytes(data)
        os.chmod(path, 0o600)
        try:
            info = load_session(Path(tmp))
        except SessionFileError as exc:
            event("refused")
            assert str(exc)
        else:
            event("loaded")
            assert all(isinstance(getattr(info, f), str) and getattr(info, f) for f in SESSION)
        assert path.read_bytes() == data


# -- stores written by older builds ---------------------------------------------------------------------

_V1_TEMPLATE: Path | None = None


def _v1_store(directory: Path) -> sqlite3.Connection:
    """A copy of a store as the first release wrote it (nio's tables and ours at version 1)."""
    global _V1_TEMPLATE
    if _V1_TEMPLATE is None:
        from nio.crypto import OlmAccount
        from nio.store import SqliteStore

        template = scratch("v1-")
        nio_store = SqliteStore("@me:x", "DEV", str(template), "store-key", "crypto.db")
        nio_store.save_account(OlmAccount())
        migrate(nio_store.database.connection(), upto=1)
        nio_store.database.connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        nio_store.database.close()
        _V1_TEMPLATE = template / "crypto.db"
    shutil.copyfile(_V1_TEMPLATE, directory / "crypto.db")
    conn = sqlite3.connect(directory / "crypto.db", isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")  # a test copy: no fsync per example
    conn.execute("BEGIN")
    return conn


sql_values = st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=True), hostile_text.filter(
    lambda t: "\x00" not in t and not any(0xD800 <= ord(c) <= 0xDFFF for c in t)), st.binary(max_size=20))
kv_notes = st.one_of(
    mutated({"at": 50.0, "inviter": "@b:x"}, max_mutations=2, values=st.one_of(json_values(4),
                                                                               st.sampled_from(HUGE_INTS))),
    json_values(4), st.sampled_from([10**400, float("inf"), float("nan")]),
).map(lambda v: json.dumps(v, allow_nan=True)) | st.builds(deep_json_text, st.integers(900, 20_000))


@examples(80)
@given(st.lists(kv_notes, max_size=3), st.lists(st.tuples(sql_values, sql_values, sql_values), max_size=2),
       st.lists(st.tuples(sql_values, sql_values, sql_values), max_size=2))
@counted
def test_an_old_store_migrates_or_is_refused_and_stays_as_it_was(notes, pending, withheld):
    with tempfile.TemporaryDirectory() as tmp:
        conn = _v1_store(Path(tmp))
        for i, note in enumerate(notes):
            conn.execute("INSERT INTO tc_kv VALUES (?,?)", (f"joined:!r{i}:x", note))
        for row in pending:
            conn.execute("INSERT OR IGNORE INTO tc_pending_bundle VALUES (?,?,?)", row)
        for room_id, session_id, code in withheld:
            conn.execute("INSERT OR IGNORE INTO tc_withheld VALUES (?,?,?,?,?,?,?,?,?,?)",
                         (room_id, session_id, None, code, None, None, None, "bundle", 1.0, "{}"))
        conn.commit()
        dump = list(conn.iterdump())
        try:
            migrate(conn)
        except StoreError as exc:
            event("refused")
            assert str(exc)
            assert conn.execute("PRAGMA user_version").fetchone()[0] == 1 and list(conn.iterdump()) == dump
        else:
            event("migrated")
            assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST
        finally:
            conn.close()
