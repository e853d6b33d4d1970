"""Typed settings from a TOML file (`paths.config_file()`).

A missing file means defaults. A malformed file or a bad value never stops the client: the
problem is reported (log and UI) with a reason, the defaults are used for what could not be
read, and the file is left untouched. Only a regular file is read: a FIFO, a device or a
directory in its place is reported and ignored (reading a FIFO would hang the client).
"""

from __future__ import annotations

import sys
from dataclasses import field, fields, replace
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

from . import paths
from .records import made, record

HISTORY_VISIBILITIES = ("shared", "invited", "joined", "world_readable")
NOTIFY_CHOICES = ("mentions", "all", "off")


@record
class Settings:
    default_profile: str = "default"
    log_level: str = "INFO"
    # Largest key bundle we will download when accepting an invite (bytes).
    bundle_max_bytes: int = 64 * 1024 * 1024
    # How long after accepting an invite a bundle from the inviter is still imported (seconds).
    bundle_accept_window: int = 24 * 60 * 60
    # Largest whole key backup we download at once (bytes); a larger one is restored room by room.
    backup_max_bytes: int = 256 * 1024 * 1024
    # After verifying with the recovery key, restore the whole key backup in the background
    # (false: only each room's keys, when it is opened or before its history is shared).
    backup_restore_all: bool = True
    sync_timeout_ms: int = 30_000
    default_history_visibility: str = "shared"
    demo_hints: bool = True
    # Tell others when we are typing.
    send_typing: bool = True
    # Ring the terminal bell (tmux and screen flag the window) for new messages in a room not in
    # view: "mentions" (a mention, a keyword or a direct message), "all" (whatever notifies), "off".
    notify_bell: str = "mentions"
    # A desktop notification (notify-send, where the desktop offers one) for the same: same values.
    notify_desktop: str = "mentions"
    # Files: the largest one downloaded, the largest one uploaded (the server's own limit applies
    # too), and where downloads go (empty: the platform's downloads directory).
    download_max_bytes: int = 100 * 1024 * 1024
    upload_max_bytes: int = 100 * 1024 * 1024
    downloads_dir: str = ""
    image_previews: bool = True  # show images in the timeline
    # action id -> key, e.g. {"send_screenshot" = "f12"}
    keys: dict[str, str] = field(default_factory=dict)


@record
class LoadedSettings:
    settings: Settings
    path: Path
    problems: tuple[str, ...] = ()


_VALIDATORS: dict[str, Any] = {
    "default_profile": lambda v: isinstance(v, str) and bool(paths.validate_profile_name(v)),
    "log_level": lambda v: isinstance(v, str)
    and v.upper() in ("DEBUG", "INFO", "WARNING", "ERROR"),
    "bundle_max_bytes": lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 < v <= 2**34,
    "bundle_accept_window": lambda v: isinstance(v, int) and not isinstance(v, bool) and v > 0,
    "backup_max_bytes": lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 < v <= 2**34,
    "backup_restore_all": lambda v: isinstance(v, bool),
    "sync_timeout_ms": lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 300_000,
    "default_history_visibility": lambda v: v in HISTORY_VISIBILITIES,
    "demo_hints": lambda v: isinstance(v, bool),
    "send_typing": lambda v: isinstance(v, bool),
    "notify_bell": lambda v: v in NOTIFY_CHOICES,
    "notify_desktop": lambda v: v in NOTIFY_CHOICES,
    "download_max_bytes": lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 < v <= 2**34,
    "upload_max_bytes": lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 < v <= 2**34,
    "downloads_dir": lambda v: isinstance(v, str) and "\x00" not in v,
    "image_previews": lambda v: isinstance(v, bool),
    "keys": lambda v: isinstance(v, dict)
    and all(isinstance(k, str) and isinstance(x, str) for k, x in v.items()),
}


def parse_settings(text: str) -> tuple[Settings, list[str]]:
    """Parse TOML text into Settings; returns the settings and a list of problems."""
    problems: list[str] = []
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return Settings(), [f"not valid TOML ({exc}); using defaults"]
    except RecursionError:
        return Settings(), ["nested deeper than any settings file; using defaults"]
    known = {f.name for f in fields(made(Settings))}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in known:
            problems.append(f"unknown setting {key!r} ignored")
            continue
        try:
            ok = _VALIDATORS[key](value)
        except ValueError:
            ok = False
        if not ok:
            problems.append(f"bad value for {key!r}: {value!r}; using the default")
            continue
        values[key] = value.upper() if key == "log_level" else value
    return replace(Settings(), **values), problems


def load_settings(path: Path | None = None) -> LoadedSettings:
    path = path or paths.config_file()
    try:
        text = paths.read_regular_file(path).decode("utf-8")
    except FileNotFoundError:
        return LoadedSettings(Settings(), path)
    except paths.NotRegularFileError:
        # A FIFO would block the client forever, a device could feed it anything.
        return LoadedSettings(Settings(), path, (f"{path} is not a regular file; ignored, using defaults",))
    except (OSError, UnicodeDecodeError) as exc:
        return LoadedSettings(Settings(), path, (f"cannot read {path}: {exc}; using defaults",))
    settings, problems = parse_settings(text)
    return LoadedSettings(settings, path, tuple(f"{path}: {p}" for p in problems))
