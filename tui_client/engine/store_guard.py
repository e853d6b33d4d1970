"""Refuse to lose a device: check a profile's crypto store before nio opens it.

nio's Olm machine creates a new Olm account whenever the store holds none for the device id,
and the client then uploads new device keys under the *old* device id. A profile whose
`crypto.db` was deleted, emptied, damaged or paired with the wrong `session.json` would silently
lose every room key and its cross-signing signature, and contacts would see the device's keys
change. So before a saved session is restored, `check_store` makes sure the store is there, is a
readable SQLite file, and holds this device's account, readable with the session's store key.
Anything else is a `StoreError` whose message says what is wrong and what the user can do;
nothing is written to the store or uploaded.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import time
from pathlib import Path

from .errors import StoreError
from .session import SESSION_FILE, SessionInfo

logger = logging.getLogger(__name__)

STORE_NAME = "crypto.db"
STORE_SUFFIXES = ("", "-wal", "-shm")


def store_path(profile_dir: Path) -> Path:
    return profile_dir / STORE_NAME


def _remedy(profile: str, device_id: str) -> str:
    return (
        f"Restore it from a backup to keep using device {device_id}, or run "
        f"`tui-client --profile {profile} logout` and log in again as a new device (messages only "
        "this device could decrypt stay unreadable; if no other device or recovery key holds your "
        "cross-signing keys, run `tui-client reset-identity --yes` after logging in)."
    )


def _refuse(profile: str, info: SessionInfo, what: str) -> StoreError:
    return StoreError(
        f"the crypto store of profile {profile!r} {what}. It must hold the keys of device "
        f"{info.device_id}, and tui-client will not create new ones under the same device. "
        + _remedy(profile, info.device_id)
    )


def _connect(path: Path) -> sqlite3.Connection:
    # mode=rw: never create the file; a missing store is reported, not replaced.
    return sqlite3.connect(f"{path.as_uri()}?mode=rw", uri=True, timeout=5)


def has_sync_token(path: Path) -> bool:
    """Whether the store at `path` has saved a sync token (so its next sync is not an initial
    one); True when that cannot be read, which asks for nothing early."""
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute("SELECT 1 FROM synctokens WHERE token != '' LIMIT 1").fetchone() is not None
        finally:
            conn.close()
    except sqlite3.Error:
        return True


def check_store(profile_dir: Path, profile: str, info: SessionInfo) -> None:
    """Raise StoreError unless the store holds `info`'s device account, readable with its key."""
    path = store_path(profile_dir)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise _refuse(profile, info, f"is missing ({path})") from None
    except OSError as exc:
        raise _refuse(profile, info, f"cannot be read ({path}: {exc.strerror or exc})") from None
    if not stat.S_ISREG(st.st_mode):
        raise _refuse(profile, info, f"is not a regular file ({path})")
    wal = Path(f"{path}-wal")
    if st.st_size == 0 and not (wal.exists() and wal.stat().st_size > 0):
        raise _refuse(profile, info, f"is empty ({path} has 0 bytes)")
    try:
        conn = _connect(path)
    except sqlite3.Error as exc:
        raise _refuse(profile, info, f"cannot be opened ({path}: {exc})") from None
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "accounts" not in tables:
            raise _refuse(profile, info, f"holds no Olm account ({path} has no keys in it)")
        rows = conn.execute(
            "SELECT device_id, account, shared FROM accounts WHERE user_id = ?", (info.user_id,)
        ).fetchall()
    except sqlite3.DatabaseError as exc:
        raise _refuse(profile, info, f"is damaged ({path}: {exc})") from None
    finally:
        conn.close()
    mine = [row for row in rows if row[0] == info.device_id]
    if not mine:
        others = ", ".join(sorted(str(row[0]) for row in rows))
        held = f"holds the keys of device {others}, not of device {info.device_id}" if others else (
            f"holds no Olm account for {info.user_id}"
        )
        raise _refuse(profile, info, f"{held} ({path})")
    _, pickle, shared = mine[0]
    try:
        data = pickle.encode() if isinstance(pickle, str) else bytes(pickle)
        _unpickle_account(data, info.store_key, bool(shared))
    except Exception as exc:  # vodozemac/libolm pickle errors, bad UTF-8, a NULL column
        logger.warning("the Olm account in %s does not unpickle: %s: %s", path, type(exc).__name__, exc)
        raise StoreError(
            f"the crypto store of profile {profile!r} cannot be read with the store key in "
            f"{profile_dir / SESSION_FILE}: that file and {path} do not belong together, or the account "
            "in the store is damaged. tui-client will not create new keys for device "
            f"{info.device_id}. Restore the matching files from a backup, or run "
            f"`tui-client --profile {profile} logout` and log in again as a new device."
        ) from None


def _unpickle_account(data: bytes, store_key: str, shared: bool) -> None:
    """What nio's `OlmAccount.from_pickle` does to read the account, with vodozemac directly
    (importing nio takes longer than the whole first frame); a pickle only nio's last resort
    reads (a libolm pickle older than version 4, with python-olm installed) goes to nio."""
    import hashlib

    import vodozemac

    text = data.decode()
    try:
        vodozemac.Account.from_pickle(text, hashlib.sha256(store_key.encode()).digest())
        return
    except vodozemac.PickleException:
        pass
    try:
        vodozemac.Account.from_libolm_pickle(text, store_key.encode())
        return
    except vodozemac.LibolmPickleException:
        from nio.crypto import OlmAccount

        OlmAccount.from_pickle(data, store_key, shared)


def check_readable(profile_dir: Path, profile: str) -> None:
    """Before a login into a profile that already has a store: make sure SQLite can read it,
    so that a damaged file is one clear error rather than a failure halfway through login."""
    path = store_path(profile_dir)
    if not path.exists():
        return
    if not path.is_file():
        raise StoreError(f"profile {profile!r} has a crypto store that is not a regular file ({path}); "
                         "move it aside, or log in with another --profile.")
    try:
        conn = _connect(path)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StoreError(
            f"profile {profile!r} has a crypto store that cannot be read ({path}: {exc}). Move it "
            "aside (or restore it from a backup), or log in with another --profile."
        ) from None


def set_aside(profile_dir: Path) -> Path | None:
    """Rename an unusable store (with its -wal/-shm) out of the way, keeping it for a restore.
    Returns the new name of the main file, if there was one."""
    path = store_path(profile_dir)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    moved = None
    for suffix in STORE_SUFFIXES:
        source = Path(f"{path}{suffix}")
        if source.exists() or source.is_symlink():
            target = profile_dir / f"{STORE_NAME}.unusable-{stamp}{suffix}"
            os.replace(source, target)
            if not suffix:
                moved = target
    return moved
