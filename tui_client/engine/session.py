"""The saved login of a profile: homeserver, user, device, access token and the key that
encrypts the crypto store at rest. Written atomically to a file only the user can read."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict
from pathlib import Path

from ..fsutil import write_private_file
from ..paths import read_regular_file
from ..records import made, record
from .errors import SessionFileError as SessionFileError  # (defined with the other errors, for front ends)

SESSION_FILE = "session.json"


@record
class SessionInfo:
    homeserver: str
    user_id: str
    device_id: str
    access_token: str
    # Random, per profile: encrypts nio's pickles and our private keys at rest.
    store_key: str

    def __repr__(self) -> str:  # never leak secrets into logs or tracebacks
        return f"SessionInfo(homeserver={self.homeserver!r}, user_id={self.user_id!r}, device_id={self.device_id!r})"

    @staticmethod
    def new_store_key() -> str:
        return secrets.token_urlsafe(32)


def save_session(profile_dir: Path, info: SessionInfo) -> Path:
    path = profile_dir / SESSION_FILE
    write_private_file(path, json.dumps(asdict(info), indent=2).encode())
    return path


def load_session(profile_dir: Path) -> SessionInfo | None:
    path = profile_dir / SESSION_FILE
    try:
        raw = json.loads(read_regular_file(path).decode("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, RecursionError) as exc:  # not a regular file, unreadable, not UTF-8, not JSON
        raise SessionFileError(
            f"cannot read the saved session {path}: {exc}. Restore it from a backup, or delete it "
            "and log in again as a new device"
        ) from None
    if not isinstance(raw, dict):
        raise SessionFileError(f"the saved session {path} is not a JSON object")
    try:
        info = SessionInfo(**{k: raw[k] for k in made(SessionInfo).__dataclass_fields__})
    except (KeyError, TypeError) as exc:
        raise SessionFileError(f"the saved session {path} is incomplete ({exc})") from exc
    if not all(isinstance(v, str) and v for v in asdict(info).values()):
        raise SessionFileError(f"the saved session {path} has empty or non-text fields")
    if os.name == "posix" and path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)  # someone loosened it; tighten rather than refuse
    return info


def delete_session(profile_dir: Path) -> None:
    try:
        (profile_dir / SESSION_FILE).unlink()
    except FileNotFoundError:
        pass
