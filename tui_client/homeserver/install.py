"""Install a pinned Synapse into its own cached virtualenv, once, and find its interpreter.

Synapse is far too heavy (and too opinionated about its dependency pins) to live in the
client's own environment, so it gets a private venv under the user cache directory. The
install is marked complete by a marker file written only after pip succeeded and Synapse
imported, and it is serialised between processes with a lock file (``fsutil.FileLock``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import venv
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import platformdirs

from ..fsutil import FileLock, LockHeld

SYNAPSE_VERSION = "1.163.2"

#: An explicit interpreter that already has ``synapse`` importable; skips the cached venv.
PYTHON_ENV_VAR = "TUI_CLIENT_SYNAPSE_PYTHON"

_MARKER_NAME = ".tui-client-installed"
_INSTALL_LOG_NAME = "install.log"


class HomeserverError(Exception):
    """Installing, starting or talking to the private Synapse failed; the message says why."""


def default_env_dir() -> Path:
    """Where the cached Synapse venv lives unless the caller picks another directory."""
    cache = Path(platformdirs.user_cache_dir("tui-client"))
    return cache / f"synapse-{SYNAPSE_VERSION}-py{sys.version_info[0]}{sys.version_info[1]}"


def _venv_python(env_dir: Path) -> Path:
    if os.name == "nt":  # pragma: no cover
        return env_dir / "Scripts" / "python.exe"
    return env_dir / "bin" / "python"


def _marker_ok(env_dir: Path) -> bool:
    marker = env_dir / _MARKER_NAME
    try:
        return marker.read_text(encoding="utf-8").strip() == SYNAPSE_VERSION
    except OSError:
        return False


def synapse_python(env_dir: Path | None = None) -> Path | None:
    """Path of the python in the cached Synapse venv if Synapse is installed there, else None.

    Without ``env_dir``, the environment variable ``TUI_CLIENT_SYNAPSE_PYTHON`` (an explicit
    interpreter that has ``synapse`` importable) wins and is returned as given, unchecked.
    An explicit ``env_dir`` always means that directory.
    """
    if env_dir is None:
        explicit = os.environ.get(PYTHON_ENV_VAR)
        if explicit:
            return Path(explicit)
        env_dir = default_env_dir()
    python = _venv_python(env_dir)
    # Never resolve() this path: the venv's python is a symlink and resolving it escapes the venv.
    if _marker_ok(env_dir) and python.exists():
        return python
    return None


def _stderr_progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@contextmanager
def _install_lock(lock_path: Path, progress: Callable[[str], None]) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(lock_path)
    try:
        lock.acquire()
    except LockHeld:
        progress("Another process is installing Synapse; waiting for it to finish…")
        lock.acquire(wait=True)
    try:
        yield
    finally:
        lock.release()


def _summarise_pip_log(path: Path) -> str:
    try:
        lines = [x.strip() for x in path.read_text(encoding="utf-8", errors="replace").splitlines()]
    except OSError:
        return "(no log)"
    lines = [x for x in lines if x]
    errors = [x for x in lines if x.startswith("ERROR")]
    return " | ".join(x if len(x) <= 300 else x[:297] + "..." for x in (errors or lines)[-2:]) or (
        "(no output)"
    )


def ensure_synapse(
    progress: Callable[[str], None] | None = None, env_dir: Path | None = None
) -> Path:
    """Install ``matrix-synapse==SYNAPSE_VERSION`` into its own venv on first use; return its python.

    The default directory is ``user_cache_dir("tui-client")/synapse-<version>-py<major><minor>``.
    ``progress`` gets one short human-readable line per step (default: printed to stderr).
    Quick and silent when the install marker is present. Safe when two processes call it at once.
    Without ``env_dir``, ``TUI_CLIENT_SYNAPSE_PYTHON`` short-circuits everything.
    Raises HomeserverError when the venv cannot be created or pip fails.
    """
    report = progress if progress is not None else _stderr_progress
    if env_dir is None:
        explicit = os.environ.get(PYTHON_ENV_VAR)
        if explicit:
            if not Path(explicit).exists():
                raise HomeserverError(f"{PYTHON_ENV_VAR}={explicit} does not exist")
            return Path(explicit)
        env_dir = default_env_dir()
    env_dir = Path(env_dir).absolute()

    found = synapse_python(env_dir)
    if found is not None:
        return found

    lock_path = env_dir.parent / f"{env_dir.name}.lock"
    with _install_lock(lock_path, report):
        # Another process may have finished the install while we waited for the lock.
        found = synapse_python(env_dir)
        if found is not None:
            return found
        started = time.monotonic()
        _install(env_dir, report)
    report(f"Done: Synapse {SYNAPSE_VERSION} installed in {time.monotonic() - started:.0f} s.")
    return _venv_python(env_dir)


def _install(env_dir: Path, report: Callable[[str], None]) -> None:
    if env_dir.exists():
        # No marker: a previous install was interrupted; start from scratch.
        shutil.rmtree(env_dir)
    report(f"Creating a virtualenv for Synapse in {env_dir}…")
    try:
        venv.EnvBuilder(with_pip=True, clear=True, symlinks=os.name != "nt").create(env_dir)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise HomeserverError(
            f"could not create a virtualenv in {env_dir} ({exc}); "
            "on Debian/Ubuntu install the python3-venv package"
        ) from exc

    python = _venv_python(env_dir)
    log_path = env_dir / _INSTALL_LOG_NAME
    report(f"Installing matrix-synapse {SYNAPSE_VERSION} (this takes ~30-60 s)…")
    with open(log_path, "wb") as log:
        result = subprocess.run(
            [
                str(python), "-m", "pip", "install",
                "--disable-pip-version-check", "--no-input", "--progress-bar", "off",
                f"matrix-synapse=={SYNAPSE_VERSION}",
            ],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, check=False,
        )
    if result.returncode != 0:
        raise HomeserverError(
            f"pip install matrix-synapse=={SYNAPSE_VERSION} failed (exit {result.returncode}); "
            f"see {log_path}: {_summarise_pip_log(log_path)}"
        )

    check = subprocess.run(
        [str(python), "-c", "import synapse.app.homeserver"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False,
    )
    if check.returncode != 0:
        last = (check.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise HomeserverError(f"Synapse was installed in {env_dir} but does not import: {last}")

    (env_dir / _MARKER_NAME).write_text(SYNAPSE_VERSION + "\n", encoding="utf-8")
