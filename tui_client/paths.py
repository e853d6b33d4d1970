"""Where tui_client keeps things on disk: one function per directory (platformdirs).

Every location honours the XDG variables on Linux, so `XDG_DATA_HOME=/tmp/x tui-client …`
isolates a run completely. `tui-client doctor` prints them all.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import platformdirs

APP_NAME = "tui-client"
CONFIG_ENV = "TUI_CLIENT_CONFIG"
_PROFILE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def log_dir() -> Path:
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def config_file() -> Path:
    """The settings file; `TUI_CLIENT_CONFIG` points elsewhere."""
    override = os.environ.get(CONFIG_ENV)
    return Path(override) if override else config_dir() / "config.toml"


def profiles_dir() -> Path:
    return data_dir() / "profiles"


def validate_profile_name(name: str) -> str:
    if not _PROFILE_RE.match(name):
        raise ValueError(
            f"invalid profile name {name!r}: use letters, digits, '.', '_' or '-' (max 64)"
        )
    return name


def profile_dir(profile: str) -> Path:
    """One directory per account profile: session file, crypto store, our tables."""
    return profiles_dir() / validate_profile_name(profile)


def downloads_dir() -> Path:
    """Where downloaded files go unless `downloads_dir` is set: the platform's downloads folder."""
    return Path(platformdirs.user_downloads_dir())


def demo_dir() -> Path:
    return data_dir() / "demo"


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and any missing parents) readable only by the user: every directory
    created here is 0700, and `path` itself is tightened to 0700 if it already existed."""
    missing = []
    parent = path
    while not parent.exists() and parent != parent.parent:
        missing.append(parent)
        parent = parent.parent
    for directory in reversed(missing):
        directory.mkdir(mode=0o700, exist_ok=True)
        try:
            os.chmod(directory, 0o700)
        except OSError:
            pass
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.chmod(path, 0o700)
    except OSError:
        pass
    return path


class NotRegularFileError(OSError):
    """A path the client reads is a FIFO, a device or a directory (reading could hang)."""


def read_regular_file(path: Path, limit: int = 1 << 20) -> bytes:
    """The bytes of `path` if it is a regular file of at most `limit` bytes.

    Opened non-blocking and checked with fstat before reading, so a FIFO or a device in its
    place is refused at once instead of hanging the client. Raises FileNotFoundError,
    NotRegularFileError or another OSError."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFileError(f"{path} is not a regular file")
        if st.st_size > limit:
            raise OSError(f"{path} is larger than {limit} bytes")
        chunks = []
        size = 0
        while chunk := os.read(fd, 65536):
            size += len(chunk)
            if size > limit:
                raise OSError(f"{path} is larger than {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def all_paths() -> dict[str, Path]:
    return {
        "config_file": config_file(),
        "config_dir": config_dir(),
        "data_dir": data_dir(),
        "profiles_dir": profiles_dir(),
        "cache_dir": cache_dir(),
        "log_dir": log_dir(),
        "demo_dir": demo_dir(),
    }
