"""Run a private Synapse on loopback for tests and the demo: start/stop, readiness, users.

Everything lives in one data directory (config, signing key, SQLite database, media, logs), which
can be reused across runs and is locked while a server runs on it. What Synapse is configured
with is in `synapse_config`; HTTP (registration, login) in `admin_api`.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from ..fsutil import FileLock, LockHeld, write_private_file
from ..procs import process_alive
from . import admin_api, synapse_config
from .install import HomeserverError, ensure_synapse

STDOUT_LOG_NAME = "synapse.stdout.log"
PID_FILE_NAME = "synapse.pid"
LOCK_FILE_NAME = ".synapse.lock"
ADMIN_FILE_NAME = "admin.json"
ADMIN_LOCALPART = "tui-admin"

_POLL_INTERVAL = 0.2
def find_free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0 and read it back)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Same option Twisted uses, so a port in TIME_WAIT from our previous run counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _read_from(path: Path, offset: int = 0) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            return handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


_EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?([A-Za-z_]\w*(?:Error|Exception|Exit)): (.+)$")


def _summarise_log(text: str) -> str:
    """Boil a startup log down to one line: the root and final exception, else the last lines."""
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    exceptions: list[str] = []
    for line in lines:
        match = _EXCEPTION_LINE.match(line)
        if match:
            summary = f"{match.group(1)}: {match.group(2)}"
            if summary not in exceptions:
                exceptions.append(summary[:300])
    if exceptions:
        picked = exceptions[:1] + exceptions[-1:] if len(exceptions) > 1 else exceptions
        return " <- ".join(reversed(picked))
    errors = [line for line in lines if " - ERROR - " in line or " - CRITICAL - " in line]
    return " | ".join((errors or lines)[-4:])[-1200:] or "(no log output)"


class SynapseServer:
    """A Synapse child process serving one data directory on 127.0.0.1.

    ``port=None`` picks a free port at each start. ``python=None`` uses ``ensure_synapse()``
    (installing Synapse on first use). Use as a context manager or call start()/stop().
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        server_name: str = "localhost",
        python: Path | None = None,
        max_upload_size: str = "100M",
    ) -> None:
        self._data_dir = Path(data_dir).absolute()
        self._requested_port = port
        self._port: int | None = port
        self._server_name = server_name
        self._python = Path(python) if python is not None else None
        self._max_upload_size = max_upload_size
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir_lock: FileLock | None = None
        self._admin_token: str | None = None

    # ----------------------------------------------------------------- properties

    @property
    def url(self) -> str:
        """Base URL of the client API, e.g. ``http://127.0.0.1:8008``."""
        if self._port is None:
            raise HomeserverError("Synapse has no port yet; call start() first")
        return f"http://127.0.0.1:{self._port}"

    @property
    def server_name(self) -> str:
        return self._server_name

    @property
    def port(self) -> int | None:
        return self._port

    @property
    def data_dir(self) -> Path:
        return self._data_dir

    @property
    def config_path(self) -> Path:
        """The config Synapse generated (its secrets); `overrides_path` is read after it."""
        return self._data_dir / synapse_config.CONFIG_NAME

    @property
    def overrides_path(self) -> Path:
        """Our config: every section of it replaces Synapse's own."""
        return self._data_dir / synapse_config.OVERRIDES_NAME

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.running and self._proc is not None else None

    # ------------------------------------------------------------- start / stop

    def start(self, timeout: float = 60.0) -> None:
        """Generate the config if needed, launch Synapse and wait until it answers.

        Raises HomeserverError (leaving no process behind) if Synapse exits or is not ready
        within ``timeout`` seconds. A no-op if this server is already running.
        """
        if self.running:
            return
        if self._proc is not None:  # it died on its own; tidy up before starting afresh
            self.stop()
        python = self._python if self._python is not None else ensure_synapse()
        self._data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._acquire_dir_lock()
        try:
            self._stop_orphan()
            if not self.config_path.exists():
                synapse_config.generate(python, self._server_name, self._data_dir)
            synapse_config.check_server_name(self._data_dir, self._server_name)
            secret = synapse_config.registration_secret(self._data_dir)
            # With a port we chose ourselves another process can grab it before Synapse binds;
            # then simply try again with a fresh one.
            attempts = 1 if self._requested_port is not None else 3
            for attempt in range(attempts):
                port = self._requested_port if self._requested_port is not None else find_free_port()
                if not _port_is_free(port):
                    raise HomeserverError(
                        f"cannot start Synapse: port {port} on 127.0.0.1 is already in use"
                    )
                self._port = port
                synapse_config.write(
                    self._data_dir, self._server_name, port, secret, max_upload_size=self._max_upload_size
                )
                try:
                    self._launch_and_wait(python, timeout)
                    return
                except _PortTaken:
                    if attempt == attempts - 1:
                        raise HomeserverError(
                            f"cannot start Synapse: port {port} on 127.0.0.1 is already in use"
                        ) from None
        except BaseException:
            self._release_dir_lock()
            raise

    def stop(self, timeout: float = 10.0) -> None:
        """Stop Synapse: SIGTERM its PID, SIGKILL after ``timeout`` seconds. Idempotent."""
        self._terminate(timeout)
        self._release_dir_lock()

    def detach(self) -> None:
        """Leave Synapse running for another process to use (and stop, with `stop_leftover`):
        forget it here, without stopping it at exit."""
        self._proc = None
        atexit.unregister(self._stop_at_exit)
        self._release_dir_lock()

    def stop_leftover(self) -> None:
        """Stop a Synapse that another process started on this data_dir and then detached from
        (or that a killed process left behind); a no-op when none runs."""
        if self.running:
            self.stop()
            return
        self._data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._acquire_dir_lock()
        try:
            self._stop_orphan()
        finally:
            self._release_dir_lock()

    def _terminate(self, timeout: float = 10.0) -> None:
        proc = self._proc
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            self._proc = None
            (self._data_dir / PID_FILE_NAME).unlink(missing_ok=True)
        atexit.unregister(self._stop_at_exit)

    def __enter__(self) -> SynapseServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _stop_at_exit(self) -> None:
        with contextlib.suppress(Exception):  # nothing sensible to do at interpreter exit
            self.stop(timeout=5.0)

    # ------------------------------------------------------------------- users

    def register_user(
        self,
        localpart: str,
        password: str,
        *,
        admin: bool = False,
        displayname: str | None = None,
    ) -> str:
        """Create a user through the shared-secret admin API and return ``@localpart:server``.

        If the user already exists the id is returned without error; its password and
        displayname are then left as they were.
        """
        user_id, _created = self._register(localpart, password, admin=admin, displayname=displayname)
        return user_id

    def admin_token(self) -> str:
        """An access token of the server admin user, registering and logging it in on first use.

        The admin's credentials are kept in ``data_dir/admin.json`` (mode 0600), so a reused
        data directory keeps the same admin and, while it stays valid, the same token.
        """
        if self._admin_token is not None:
            return self._admin_token
        self._require_running()
        path = self._data_dir / ADMIN_FILE_NAME
        saved: dict[str, Any] = {}
        if path.exists():
            try:
                saved = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                saved = {}
        token = saved.get("access_token")
        if isinstance(token, str):
            status, _ = admin_api.request(self.url, "GET", "/_matrix/client/v3/account/whoami", token=token)
            if status == 200:
                self._admin_token = token
                return token
        localpart, password = saved.get("localpart"), saved.get("password")
        if not isinstance(localpart, str) or not isinstance(password, str):
            localpart, password = ADMIN_LOCALPART, secrets.token_urlsafe(24)
            write_private_file(path, json.dumps({"localpart": localpart, "password": password}))
            _, created = self._register(localpart, password, admin=True)
            if not created:
                # An admin from a lost admin.json still exists; its password is unknown.
                localpart = f"{ADMIN_LOCALPART}-{secrets.token_hex(4)}"
                write_private_file(path, json.dumps({"localpart": localpart, "password": password}))
                self._register(localpart, password, admin=True)
        token = admin_api.login(self.url, localpart, password)
        write_private_file(
            path, json.dumps({"localpart": localpart, "password": password, "access_token": token})
        )
        self._admin_token = token
        return token

    def _register(
        self, localpart: str, password: str, *, admin: bool, displayname: str | None = None
    ) -> tuple[str, bool]:
        self._require_running()
        secret = synapse_config.read_overrides(self._data_dir).get("registration_shared_secret")
        if not isinstance(secret, str) or not secret:
            raise HomeserverError(f"{self.overrides_path} has no registration secret; restart the server")
        return admin_api.register(
            self.url, secret, self._server_name, localpart, password, admin=admin, displayname=displayname
        )

    def _require_running(self) -> None:
        if not self.running:
            raise HomeserverError("Synapse is not running; call start() first")

    # ----------------------------------------------------------------- process

    def _launch_and_wait(self, python: Path, timeout: float) -> None:
        stdout_path = self._data_dir / STDOUT_LOG_NAME
        synapse_log = self._data_dir / synapse_config.SYNAPSE_LOG_NAME
        log_offset = synapse_log.stat().st_size if synapse_log.exists() else 0
        with open(stdout_path, "wb") as stdout:
            # Own session: a Ctrl-C in the client's terminal must not reach Synapse directly.
            self._proc = subprocess.Popen(
                [str(python), "-m", "synapse.app.homeserver",
                 "-c", str(self.config_path), "-c", str(self.overrides_path)],
                cwd=self._data_dir,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        proc = self._proc
        (self._data_dir / PID_FILE_NAME).write_text(f"{proc.pid}\n", encoding="utf-8")
        atexit.register(self._stop_at_exit)

        def failure_details() -> tuple[str, str]:
            text = _read_from(stdout_path) + "\n" + _read_from(synapse_log, log_offset)
            return text, f"{_summarise_log(text)} (logs: {stdout_path}, {synapse_log})"

        deadline = time.monotonic() + timeout
        while True:
            code = proc.poll()
            if code is not None:
                text, details = failure_details()
                self._terminate()
                if "Address already in use" in text:
                    raise _PortTaken()
                raise HomeserverError(f"Synapse exited with code {code} during startup: {details}")
            if admin_api.answers_versions(self.url):
                return
            if time.monotonic() >= deadline:
                self._terminate()
                _, details = failure_details()
                raise HomeserverError(
                    f"Synapse did not become ready within {timeout:g} s; last log lines: {details}"
                )
            time.sleep(_POLL_INTERVAL)

    def _acquire_dir_lock(self) -> None:
        if self._dir_lock is not None:
            return
        lock = FileLock(self._data_dir / LOCK_FILE_NAME)
        try:
            lock.acquire()
        except LockHeld:
            raise HomeserverError(
                f"another process is already running Synapse in {self._data_dir}"
            ) from None
        self._dir_lock = lock

    def _release_dir_lock(self) -> None:
        if self._dir_lock is not None:
            self._dir_lock.release()
            self._dir_lock = None

    def _stop_orphan(self) -> None:
        """Stop a Synapse left running on this data_dir by a process that died without stop().

        Only reached while holding the data_dir lock, so no live SynapseServer owns it; and
        only a process whose command line names our config file is touched.
        """
        pid_file = self._data_dir / PID_FILE_NAME
        try:
            pid = int(pid_file.read_text(encoding="utf-8").strip())
        except (OSError, ValueError):
            return
        def is_our_synapse() -> bool:
            # Our command line always names our config file (whole, as one argument).
            return process_alive(pid, str(self.config_path))

        if pid != os.getpid() and is_our_synapse():
            for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    break
                deadline = time.monotonic() + wait
                while time.monotonic() < deadline and is_our_synapse():
                    time.sleep(0.1)
                if not is_our_synapse():
                    break
        pid_file.unlink(missing_ok=True)


class _PortTaken(Exception):
    """Synapse lost the race for the port we picked for it."""


__all__ = ["SynapseServer", "HomeserverError", "find_free_port"]
