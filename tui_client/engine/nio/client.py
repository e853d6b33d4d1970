"""`EngineClient`: nio's AsyncClient with our store and Olm machine, hardened sync handling,
and a key query that keeps the cross-signing keys nio throws away (the responses that keep what
nio drops are in `responses`)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import os
import secrets
import urllib.parse
from collections.abc import Callable
from typing import Any

import aiohttp
from nio import AsyncClient, AsyncClientConfig
from nio.api import Api
from nio.events import RoomEncryptionEvent, RoomMemberEvent
from nio.responses import KeysQueryError, SyncError, SyncResponse

from .olm import AppOlm, OlmHooks
from ..errors import DownloadError
from .responses import AppSyncResponse, FullKeysQueryResponse
from .store import AppStore

logger = logging.getLogger(__name__)


def _make_private(database: str) -> None:
    """Create the store file 0600 before SQLite does (SQLite gives its -wal and -shm files the
    mode of the database), and tighten the mode of files an older build left 0644."""
    fd = os.open(database, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    for suffix in ("-wal", "-shm"):
        try:
            os.chmod(database + suffix, 0o600)
        except FileNotFoundError:
            pass


class EngineClient(AsyncClient):
    olm: AppOlm | None
    store: AppStore | None

    def __init__(
        self, homeserver: str, user: str, device_id: str | None, store_path: str, store_key: str,
        hooks: OlmHooks | None = None,
    ) -> None:
        self.hooks = hooks or OlmHooks()
        config = AsyncClientConfig(
            store=AppStore,
            store_name="crypto.db",
            # nio saves the token before it handles the response: a crash in between lost the
            # room keys it brought for good (the server deletes to-device messages once the next
            # token is used). The engine saves it once the response is processed.
            store_sync_tokens=False,
            encryption_enabled=True,
            pickle_key=store_key,
            # One quick retry inside nio; the engine's sync loop owns backoff and reports it.
            max_timeouts=1,
            max_timeout_retry_wait_time=2,
            request_timeout=60,
        )
        super().__init__(homeserver, user, device_id or "", store_path, config)
        self._full_state_sync = False
        # The initial sync, asked for while the app started (engine.first_sync); the first
        # full-state sync without a token takes its answer instead of asking again.
        self.early_sync: concurrent.futures.Future[bytes] | None = None

    def load_store(self) -> None:
        """As nio's, but with our store class and Olm machine (nio hard-codes `Olm`)."""
        if self.store:
            return
        if not self.user_id or not self.device_id or not self.store_path:
            return
        _make_private(os.path.join(self.store_path, self.config.store_name))
        self.store = AppStore(
            self.user_id, self.device_id, self.store_path, self.config.pickle_key, self.config.store_name
        )
        self.olm = AppOlm(self.user_id, self.device_id, self.store, self.hooks)
        self.encrypted_rooms = self.store.load_encrypted_rooms()
        self.loaded_sync_token = self.store.load_sync_token()

    def save_sync_token(self, token: str | None) -> None:
        """Remember where the next sync starts, once everything before it is stored."""
        if token and self.store is not None:
            self.store.save_sync_token(token)

    async def _handle_sync(self, response: SyncResponse) -> None:
        """nio's handling of a sync response, the engine's, then the next sync token, in one
        transaction. nio saves an Olm session as soon as it decrypts a to-device message; a
        crash before the room key (or key bundle) in it was stored lost the key for good, as
        the message cannot be decrypted twice. Now a crash anywhere in between leaves the store
        as it was before the response, and the server sends it again."""
        if self.store is None or self.next_batch == response.next_batch:
            await super()._handle_sync(response)
            return
        with self.store.transaction():
            await super()._handle_sync(response)
            try:
                self.hooks.on_sync_response(response)
            except Exception:
                logger.exception("processing a sync response failed")
            self.save_sync_token(response.next_batch)

    async def sync(
        self, timeout: int | None = 0, sync_filter: Any = None, since: str | None = None,
        full_state: bool | None = None, set_presence: str | None = None,
    ) -> AppSyncResponse | SyncError:
        self._full_state_sync = bool(full_state)
        early, self.early_sync = self.early_sync, None
        if early is not None and full_state and sync_filter is None and set_presence is None and not (
            since or self.next_batch or self.loaded_sync_token
        ):
            resp = await self._early_response(early)
            if resp is not None:
                return resp
        method, path = Api.sync(
            self.access_token,
            since=since or self.next_batch or self.loaded_sync_token,
            timeout=timeout or None,
            filter=sync_filter,
            full_state=full_state,
            set_presence=set_presence,
        )
        return await self._send(
            AppSyncResponse, method, path,
            timeout=120 if full_state else (timeout / 1000 + 15 if timeout else 30),
        )

    async def _early_response(self, early: concurrent.futures.Future[bytes]) -> SyncResponse | None:
        """The early initial sync's answer, handled as `_send` handles one it fetched; None when
        there is none (the caller asks the server itself and reports what goes wrong)."""
        try:
            body: bytes = await asyncio.wrap_future(early)
            parsed = json.loads(body)
        except Exception as exc:
            logger.info("the first sync asked for at start gave no answer (%s); asking again", exc)
            return None
        resp = AppSyncResponse.from_dict(parsed)
        if not isinstance(resp, SyncResponse):
            logger.info("the first sync asked for at start is not a sync response; asking again")
            return None
        await self.receive_response(resp)
        return resp

    def _handle_olm_events(self, response: Any) -> None:
        super()._handle_olm_events(response)
        assert self.olm is not None
        # nio updates the one-time key count only when it is not zero, so a device whose keys
        # ran out never made new ones.
        if response.device_key_count.signed_curve25519 == 0:
            self.olm.uploaded_key_count = 0
        self.olm.note_unused_fallback_keys(getattr(response, "unused_fallback_key_types", None))

    # -- a bad event never aborts a sync -------------------------------------------------------

    def _handle_timeline_event(self, event, room_id, room, encrypted_rooms):
        try:
            return super()._handle_timeline_event(event, room_id, room, encrypted_rooms)
        except Exception as exc:
            logger.warning(
                "skipped a timeline event in %s (%s): %s", room_id, getattr(event, "event_id", "?"), exc
            )
            return None

    def _handle_joined_state(self, room_id, join_info, encrypted_rooms):
        # nio's version stops at the first state event that trips it; go event by event.
        if room_id in self.invited_rooms:
            del self.invited_rooms[room_id]
        if room_id not in self.rooms:
            from nio.rooms import MatrixRoom

            self.rooms[room_id] = MatrixRoom(room_id, self.user_id, room_id in self.encrypted_rooms)
        room = self.rooms[room_id]
        for event in join_info.state:
            try:
                if isinstance(event, RoomEncryptionEvent):
                    encrypted_rooms.add(room_id)
                if isinstance(event, RoomMemberEvent):
                    # A full-state sync (the first of each start) replays every member into a
                    # room nio has just created: that is no change. Whether the members differ
                    # from those our stored outbound session went to is checked before sending
                    # (AppOlm.check_outbound_session).
                    if room.handle_membership(event) and not self._full_state_sync:
                        self._invalidate_session_for_member_event(room_id)
                else:
                    room.handle_event(event)
            except Exception as exc:
                logger.warning(
                    "skipped a state event in %s (%s): %s", room_id, getattr(event, "event_id", "?"), exc
                )
        if join_info.summary:
            room.update_summary(join_info.summary)
        if join_info.unread_notifications:
            room.update_unread_notifications(join_info.unread_notifications)

    async def _handle_invited_rooms(self, response) -> None:
        for room_id, info in response.rooms.invite.items():
            room = self._get_invited_room(room_id)
            for event in info.invite_state:
                try:
                    room.handle_event(event)
                except Exception as exc:
                    logger.warning("skipped an invite state event in %s: %s", room_id, exc)

    # -- our outbound Megolm sessions, kept across restarts ----------------------------------

    async def share_group_session(self, room_id: str, ignore_unverified_devices: bool = False) -> Any:
        resp = await super().share_group_session(room_id, ignore_unverified_devices=ignore_unverified_devices)
        room = self.rooms.get(room_id)
        if self.olm is not None and room is not None:
            self.olm.outbound_shared(room_id, room.users)
        return resp

    # -- key query keeping cross-signing keys ------------------------------------------------

    async def keys_query_full(self, users: set[str] | None = None) -> FullKeysQueryResponse | KeysQueryError:
        """Query device and cross-signing keys of `users` (default: those nio wants)."""
        assert self.olm
        user_list = set(users) if users is not None else set(self.users_for_key_query)
        if not user_list:
            user_list = {self.user_id}
        method, path, data = Api.keys_query(self.access_token, user_list)
        resp = await self._send(FullKeysQueryResponse, method, path, data)
        if isinstance(resp, FullKeysQueryResponse):
            try:
                self.hooks.on_keys_query(resp)
            except Exception:
                logger.exception("processing cross-signing keys failed")
        return resp

    async def keys_query(self) -> Any:
        """nio calls this itself (e.g. from room_send); route it through the full query."""
        return await self.keys_query_full()

    # -- raw JSON calls for endpoints nio does not wrap ------------------------------------

    async def raw_json(
        self, method: str, path: str, body: Any = None, *, timeout: float = 30
    ) -> tuple[int, dict[str, Any]]:
        """Call `path` (e.g. "/_matrix/client/v3/...") with our token; (HTTP status, JSON object)."""
        headers = {"Content-Type": "application/json"}
        if self.access_token:
            headers["Authorization"] = f"Bearer {self.access_token}"
        data = json.dumps(body) if body is not None else None
        resp = await self.send(method, path, data, headers, timeout=timeout)
        try:
            parsed = await resp.json(content_type=None)
        except Exception:
            parsed = None
        finally:
            resp.release()
        return resp.status, parsed if isinstance(parsed, dict) else {}

    async def get_json_limited(
        self, path: str, *, limit: int, stall_timeout: float = 60.0
    ) -> tuple[int, Any]:
        """GET `path` with our token, refusing an answer over `limit` bytes (DownloadError with
        status 413, final); (HTTP status, parsed JSON or None). The JSON is parsed in a worker
        thread: a large key backup must not hold up the loop."""
        headers = {"Authorization": f"Bearer {self.access_token}"} if self.access_token else {}
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=15, sock_read=stall_timeout)
        try:
            resp = await self.send("GET", path, None, headers, timeout=timeout)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise DownloadError(None, _network_error(exc)) from None
        try:
            body = await _read_limited(resp, limit, "the answer")
            status = resp.status
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise DownloadError(None, _network_error(exc)) from None
        finally:
            resp.release()
        return status, await asyncio.to_thread(_parse_json, body)
    async def send_to_device(self, event_type: str, messages: dict[str, dict[str, Any]]) -> None:
        """PUT /sendToDevice: `messages` maps user → device → content. Raises RuntimeError."""
        status, body = await self.raw_json(
            "PUT",
            f"/_matrix/client/v3/sendToDevice/{urllib.parse.quote(event_type)}/{secrets.token_hex(12)}",
            {"messages": messages},
        )
        if status != 200:
            raise RuntimeError(body.get("error") or f"HTTP {status}")

    async def send_olm(
        self, user_id: str, device_ids: list[str], event_type: str, content: dict[str, Any]
    ) -> list[str]:
        """Olm-encrypt `content` as `event_type` for each device (claiming one-time keys where we
        have no session yet) and send it in one request. Returns the devices it went to."""
        olm = self.olm
        assert olm is not None
        known = olm.device_store[user_id]
        missing = [d for d in device_ids if (dev := known.get(d)) is not None and not olm.session_store.get(dev.curve25519)]
        if missing:
            await self.keys_claim({user_id: missing})
        messages: dict[str, Any] = {}
        for device_id in device_ids:
            device = known.get(device_id)
            session = olm.session_store.get(device.curve25519) if device else None
            if session is None:
                logger.warning("no Olm session with %s %s; %s not sent to it", user_id, device_id, event_type)
                continue
            messages[device_id] = olm._olm_encrypt(session, device, event_type, content)
        if messages:
            await self.send_to_device("m.room.encrypted", {user_id: messages})
        return list(messages)

    async def upload_bytes(self, data: bytes, content_type: str = "application/octet-stream") -> str:
        """POST /media/v3/upload; returns the mxc:// URL."""
        headers = {"Content-Type": content_type, "Content-Length": str(len(data))}
        if self.access_token:
            headers["Authorization"] = f"Bearer {self.access_token}"
        resp = await self.send("POST", "/_matrix/media/v3/upload", data, headers, timeout=120)
        try:
            body = await resp.json(content_type=None)
        except Exception:
            body = {}
        finally:
            resp.release()
        if resp.status != 200 or not isinstance(body, dict) or not isinstance(body.get("content_uri"), str):
            error = body.get("error") if isinstance(body, dict) else None
            raise RuntimeError(error or f"HTTP {resp.status}")
        return body["content_uri"]

    async def upload_media(
        self,
        data: bytes,
        content_type: str = "application/octet-stream",
        *,
        filename: str | None = None,
        on_progress: Callable[[int, int], None] | None = None,
        chunk: int = 256 * 1024,
    ) -> str:
        """POST /media/v3/upload in chunks, calling `on_progress(sent, total)` after each (the
        caller cancels the task to stop it); returns the mxc:// URL. Raises RuntimeError."""
        total = len(data)

        async def body() -> Any:
            sent = 0
            while sent < total:
                piece = data[sent:sent + chunk]
                yield piece
                sent += len(piece)
                if on_progress is not None:
                    on_progress(sent, total)

        headers = {"Content-Type": content_type, "Content-Length": str(total)}
        if self.access_token:
            headers["Authorization"] = f"Bearer {self.access_token}"
        path = "/_matrix/media/v3/upload"
        if filename:
            path += "?filename=" + urllib.parse.quote(filename, safe="")
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=15, sock_read=120)
        resp = await self.send("POST", path, body() if total else b"", headers, timeout=timeout)
        try:
            answer = await resp.json(content_type=None)
        except Exception:
            answer = {}
        finally:
            resp.release()
        if resp.status != 200 or not isinstance(answer, dict) or not isinstance(answer.get("content_uri"), str):
            error = answer.get("error") if isinstance(answer, dict) else None
            raise RuntimeError(error or f"HTTP {resp.status}")
        return str(answer["content_uri"])

    async def download_media(
        self,
        server: str,
        media_id: str,
        *,
        limit: int,
        on_progress: Callable[[int, int | None], None] | None = None,
        stall_timeout: float = 30.0,
    ) -> bytes:
        """Download authenticated media, refusing more than `limit` bytes; `on_progress(done,
        total)` after each chunk. A server that sends nothing for `stall_timeout` seconds fails
        the download (a slow one does not). Raises DownloadError."""
        path = f"/_matrix/client/v1/media/download/{urllib.parse.quote(server, safe='')}/{urllib.parse.quote(media_id, safe='')}"
        headers = {"Authorization": f"Bearer {self.access_token}"} if self.access_token else {}
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=15, sock_read=stall_timeout)
        try:
            resp = await self.send("GET", path, None, headers, timeout=timeout)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise DownloadError(None, _network_error(exc)) from None
        try:
            if resp.status != 200:
                raise DownloadError(resp.status, f"HTTP {resp.status}")
            body = await _read_limited(resp, limit, "the file", on_progress)
            total = resp.content_length
            if total is not None and len(body) != total:
                raise DownloadError(None, f"the download ended early ({len(body)} of {total} bytes)")
            return body
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise DownloadError(None, _network_error(exc)) from None
        finally:
            resp.release()


async def _read_limited(
    resp: Any, limit: int, what: str, on_progress: Callable[[int, int | None], None] | None = None
) -> bytes:
    """An answer's body, refusing more than `limit` bytes (DownloadError 413, final) whether or
    not the server said its length; `on_progress(done, total)` after each chunk."""
    total = resp.content_length
    if total is not None and total > limit:
        raise DownloadError(413, f"{what} is too large ({total} bytes; the limit is {limit})", final=True)
    chunks = []
    size = 0
    async for chunk in resp.content.iter_chunked(256 * 1024):
        size += len(chunk)
        if size > limit:
            raise DownloadError(413, f"{what} is too large (over the limit of {limit} bytes)", final=True)
        chunks.append(chunk)
        if on_progress is not None:
            on_progress(size, total)
    return b"".join(chunks)


def _network_error(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "the server stopped sending"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _parse_json(data: bytes) -> Any:
    """JSON, or None for anything that is not (including nesting deeper than Python parses)."""
    try:
        return json.loads(data)
    except (ValueError, RecursionError, UnicodeDecodeError):
        return None
