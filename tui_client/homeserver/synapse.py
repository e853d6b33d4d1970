"""Run a private Synapse on loopback for tests and the demo: config, start/stop, readiness, users.

Everything lives in one data directory (config, signing key, SQLite database, media, logs), which
can be reused across runs. The config Synapse generates is replaced wholesale by our own (written
as JSON, which is valid YAML), keeping only its secrets and file names: a single client listener on
127.0.0.1, open registration, no federation, cheap bcrypt and every rate limiter opened wide.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from .install import HomeserverError, ensure_synapse

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

CONFIG_NAME = "homeserver.yaml"
STDOUT_LOG_NAME = "synapse.stdout.log"
SYNAPSE_LOG_NAME = "homeserver.log"
PID_FILE_NAME = "synapse.pid"
LOCK_FILE_NAME = ".synapse.lock"
ADMIN_FILE_NAME = "admin.json"
ADMIN_LOCALPART = "tui-admin"

#: Top-level scalars taken over from the config Synapse generates.
_KEPT_KEYS = (
    "server_name",
    "registration_shared_secret",
    "macaroon_secret_key",
    "form_secret",
    "signing_key_path",
    "log_config",
    "media_store_path",
)

# Each of these is parsed by synapse/config/ratelimiting.py; a misspelt key is silently ignored,
# which is why the tests prove the effect with a burst. per_second 0 would mean division by zero.
_RATE_LIMITERS: dict[str, tuple[str, ...]] = {
    "rc_message": (),
    "rc_registration": (),
    "rc_registration_token_validity": (),
    "rc_login": ("address", "account", "failed_attempts"),
    "rc_joins": ("local", "remote"),
    "rc_joins_per_room": (),
    "rc_invites": ("per_room", "per_user", "per_issuer"),
    "rc_third_party_invite": (),
    "rc_key_requests": (),
    "rc_3pid_validation": (),
    "rc_admin_redaction": (),
    "rc_media_create": (),
    "rc_delayed_event_mgmt": (),
    "rc_room_creation": (),
    "rc_reports": (),
    "rc_user_directory": (),
    "rc_profile": (),
    "rc_presence": ("per_user",),
}
_UNLIMITED = {"per_second": 1_000_000, "burst_count": 1_000_000}

_POLL_INTERVAL = 0.2
# urllib would otherwise honour http_proxy/HTTPS_PROXY even for 127.0.0.1.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


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


def _parse_scalar_lines(text: str) -> dict[str, str]:
    """Read simple top-level ``key: value`` scalars from YAML text, handling both quote styles."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        if not line or line[0] in " \t#-" or ":" not in line:
            continue
        key, _, raw = line.partition(":")
        raw = raw.strip()
        if not raw:
            continue
        if raw.startswith('"'):
            try:
                # A YAML double-quoted scalar with simple escapes is a JSON string.
                value = json.JSONDecoder().raw_decode(raw)[0]
            except ValueError:
                continue
        elif raw.startswith("'"):
            end = raw.rfind("'")
            if end <= 0:
                continue
            value = raw[1:end].replace("''", "'")
        else:
            value = raw.split(" #", 1)[0].strip()
        if isinstance(value, str):
            found[key.strip()] = value
    return found


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` atomically to a file that only its owner can read."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


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


def _process_cmdline(pid: int) -> str | None:
    """The command line of a live process, or None if it is gone (or a zombie)."""
    proc = Path(f"/proc/{pid}/cmdline")
    if Path("/proc/self").exists():
        try:
            raw = proc.read_bytes()
        except OSError:
            return None
        return raw.replace(b"\0", b" ").decode(errors="replace").strip() or None
    try:  # pragma: no cover - non-Linux
        out = subprocess.run(
            ["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True, check=False
        )
    except OSError:
        return None
    return out.stdout.strip() or None


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
        self._dir_lock: IO[bytes] | None = None
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
        return self._data_dir / CONFIG_NAME

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
                self._generate_config(python)
            kept = self._read_kept_values()
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
                self._write_config(port, kept)
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
            status, _ = self._request("GET", "/_matrix/client/v3/account/whoami", token=token)
            if status == 200:
                self._admin_token = token
                return token
        localpart, password = saved.get("localpart"), saved.get("password")
        if not isinstance(localpart, str) or not isinstance(password, str):
            localpart, password = ADMIN_LOCALPART, secrets.token_urlsafe(24)
            _write_private(path, json.dumps({"localpart": localpart, "password": password}))
            _, created = self._register(localpart, password, admin=True)
            if not created:
                # An admin from a lost admin.json still exists; its password is unknown.
                localpart = f"{ADMIN_LOCALPART}-{secrets.token_hex(4)}"
                _write_private(path, json.dumps({"localpart": localpart, "password": password}))
                self._register(localpart, password, admin=True)
        token = self._login(localpart, password)
        _write_private(
            path, json.dumps({"localpart": localpart, "password": password, "access_token": token})
        )
        self._admin_token = token
        return token

    def _register(
        self, localpart: str, password: str, *, admin: bool, displayname: str | None = None
    ) -> tuple[str, bool]:
        self._require_running()
        user_id = f"@{localpart}:{self._server_name}"
        secret = self._read_kept_values()["registration_shared_secret"]
        status, body = self._request("GET", "/_synapse/admin/v1/register")
        nonce = body.get("nonce")
        if status != 200 or not isinstance(nonce, str):
            raise HomeserverError(f"could not get a registration nonce: HTTP {status} {body}")
        mac = hmac.new(secret.encode("utf-8"), digestmod=hashlib.sha1)
        for part in (nonce, localpart, password):
            mac.update(part.encode("utf-8"))
            mac.update(b"\x00")
        mac.update(b"admin" if admin else b"notadmin")
        request: dict[str, Any] = {
            "nonce": nonce,
            "username": localpart,
            "password": password,
            "admin": admin,
            "mac": mac.hexdigest(),
        }
        if displayname is not None:
            request["displayname"] = displayname
        status, body = self._request("POST", "/_synapse/admin/v1/register", request)
        if status == 200:
            return str(body.get("user_id", user_id)), True
        if body.get("errcode") == "M_USER_IN_USE":
            return user_id, False
        raise HomeserverError(f"registering {user_id} failed: HTTP {status} {body}")

    def _login(self, localpart: str, password: str) -> str:
        status, body = self._request(
            "POST",
            "/_matrix/client/v3/login",
            {
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": localpart},
                "password": password,
                "initial_device_display_name": "tui_client homeserver admin",
            },
        )
        token = body.get("access_token")
        if status != 200 or not isinstance(token, str):
            raise HomeserverError(f"login as {localpart} failed: HTTP {status} {body}")
        return token

    def _require_running(self) -> None:
        if not self.running:
            raise HomeserverError("Synapse is not running; call start() first")

    def _request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        timeout: float = 30.0,
    ) -> tuple[int, dict[str, Any]]:
        """One JSON request to the server; returns (HTTP status, decoded body) even for errors."""
        data = json.dumps(body).encode("utf-8") if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with _OPENER.open(request, timeout=timeout) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        except OSError as err:
            raise HomeserverError(f"{method} {self.url}{path} failed: {err}") from err
        try:
            decoded = json.loads(raw) if raw else {}
        except ValueError:
            decoded = {"body": raw[:200].decode("utf-8", errors="replace")}
        return status, decoded if isinstance(decoded, dict) else {"body": decoded}

    # ------------------------------------------------------------------ config

    def _generate_config(self, python: Path) -> None:
        # Run from inside data_dir: the generated log config may name its file relative to cwd.
        result = subprocess.run(
            [
                str(python), "-m", "synapse.app.homeserver",
                "--server-name", self._server_name,
                "--config-path", str(self.config_path),
                "--data-directory", str(self._data_dir),
                "--generate-config", "--report-stats=no",
            ],
            cwd=self._data_dir, stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=120, check=False,
        )
        if result.returncode != 0 or not self.config_path.exists():
            output = (result.stderr or result.stdout).strip().splitlines()[-5:]
            raise HomeserverError(
                f"Synapse could not generate its config in {self._data_dir} "
                f"(exit {result.returncode}): {' | '.join(output) or 'no output'}"
            )

    def _read_kept_values(self) -> dict[str, str]:
        """Secrets and file names from homeserver.yaml: generated YAML or our own JSON."""
        try:
            text = self.config_path.read_text(encoding="utf-8")
        except OSError as err:
            raise HomeserverError(f"cannot read {self.config_path}: {err}") from err
        try:
            # Our own config is JSON after a leading "#" comment line.
            loaded = json.loads("\n".join(x for x in text.splitlines() if not x.startswith("#")))
            values = {k: str(loaded[k]) for k in _KEPT_KEYS if isinstance(loaded, dict) and k in loaded}
        except ValueError:
            values = _parse_scalar_lines(text)
        missing = [k for k in _KEPT_KEYS if not values.get(k)]
        if missing:
            raise HomeserverError(f"{self.config_path} lacks {', '.join(missing)}")
        if values["server_name"] != self._server_name:
            raise HomeserverError(
                f"{self._data_dir} belongs to server name {values['server_name']!r}, "
                f"not {self._server_name!r}"
            )
        return values

    def _write_config(self, port: int, kept: dict[str, str]) -> None:
        data = self._data_dir
        # Keep the generated file names but re-root them, so a moved data_dir still works.
        signing_key = data / Path(kept["signing_key_path"]).name
        log_config = data / Path(kept["log_config"]).name
        media_store = data / Path(kept["media_store_path"]).name
        if signing_key.exists():
            os.chmod(signing_key, 0o600)
        _write_private(log_config, json.dumps(self._log_config(), indent=2) + "\n")

        config: dict[str, Any] = {
            "server_name": self._server_name,
            "public_baseurl": f"http://127.0.0.1:{port}/",
            "listeners": [
                {
                    "port": port,
                    "bind_addresses": ["127.0.0.1"],
                    "type": "http",
                    "tls": False,
                    "x_forwarded": False,
                    "resources": [{"names": ["client"], "compress": False}],
                }
            ],
            "database": {"name": "sqlite3", "args": {"database": str(data / "homeserver.db")}},
            "log_config": str(log_config),
            "media_store_path": str(media_store),
            "signing_key_path": str(signing_key),
            "registration_shared_secret": kept["registration_shared_secret"],
            "macaroon_secret_key": kept["macaroon_secret_key"],
            "form_secret": kept["form_secret"],
            "enable_media_repo": True,
            "max_upload_size": self._max_upload_size,
            "url_preview_enabled": False,
            "enable_registration": True,
            "enable_registration_without_verification": True,
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "federation_domain_whitelist": [],
            "use_presence": False,
            "presence": {"enabled": False},
            "report_stats": False,
            "enable_metrics": False,
            "bcrypt_rounds": 4,
            "ui_auth": {"session_timeout": "5m"},
        }
        for limiter, children in _RATE_LIMITERS.items():
            if children:
                config[limiter] = {child: dict(_UNLIMITED) for child in children}
            else:
                config[limiter] = dict(_UNLIMITED)
        header = "# Written by tui_client.homeserver on every start; JSON is valid YAML.\n"
        _write_private(self.config_path, header + json.dumps(config, indent=2) + "\n")

    def _log_config(self) -> dict[str, Any]:
        return {
            "version": 1,
            "formatters": {
                "precise": {
                    "format": "%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - "
                    "%(request)s - %(message)s"
                }
            },
            "handlers": {
                "file": {
                    "class": "logging.FileHandler",
                    "formatter": "precise",
                    "filename": str(self._data_dir / SYNAPSE_LOG_NAME),
                    "encoding": "utf8",
                }
            },
            # A few INFO lines at startup say which port and config were used; requests stay quiet.
            "loggers": {"synapse.app": {"level": "INFO"}},
            "root": {"level": "WARNING", "handlers": ["file"]},
            "disable_existing_loggers": False,
        }

    # ----------------------------------------------------------------- process

    def _launch_and_wait(self, python: Path, timeout: float) -> None:
        stdout_path = self._data_dir / STDOUT_LOG_NAME
        synapse_log = self._data_dir / SYNAPSE_LOG_NAME
        log_offset = synapse_log.stat().st_size if synapse_log.exists() else 0
        with open(stdout_path, "wb") as stdout:
            # Own session: a Ctrl-C in the client's terminal must not reach Synapse directly.
            self._proc = subprocess.Popen(
                [str(python), "-m", "synapse.app.homeserver", "-c", str(self.config_path)],
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
            if self._answers_versions():
                return
            if time.monotonic() >= deadline:
                self._terminate()
                _, details = failure_details()
                raise HomeserverError(
                    f"Synapse did not become ready within {timeout:g} s; last log lines: {details}"
                )
            time.sleep(_POLL_INTERVAL)

    def _answers_versions(self) -> bool:
        try:
            with _OPENER.open(self.url + "/_matrix/client/versions", timeout=2.0) as response:
                return bool(response.status == 200)
        except (OSError, ValueError):
            return False

    def _acquire_dir_lock(self) -> None:
        if self._dir_lock is not None or fcntl is None:
            return
        handle = open(self._data_dir / LOCK_FILE_NAME, "a+b")  # noqa: SIM115 - held while running
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise HomeserverError(
                f"another process is already running Synapse in {self._data_dir}"
            ) from None
        self._dir_lock = handle

    def _release_dir_lock(self) -> None:
        if self._dir_lock is not None:
            self._dir_lock.close()  # closing the file drops the flock
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
        config = str(self.config_path)

        def is_our_synapse() -> bool:
            # Our command line always ends with "-c <config path>".
            return (_process_cmdline(pid) or "").endswith(f" -c {config}")

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
