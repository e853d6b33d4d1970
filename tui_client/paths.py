"""Where tui_client keeps things on disk: one function per directory (platformdirs).

Every location honours the XDG variables on Linux, so `XDG_DATA_HOME=/tmp/x tui-client …`
isolates a run completely. `tui-client doctor` prints them all.
"""

from __future__ import annotations

import os
import re
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


def demo_dir() -> Path:
    return data_dir() / "demo"


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and parents) readable only by the user."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.chmod(path, 0o700)
    except OSError:
        pass
    return path


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
