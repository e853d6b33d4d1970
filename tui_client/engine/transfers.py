"""Files in and out: downloading a message's file through authenticated media (decrypted and
hash-checked when it is encrypted, never more than `download_max_bytes`), saving it where the
user said or into the downloads directory under a safe, unused name, and uploading a file as a
message (encrypted in an encrypted room; size, image dimensions and a thumbnail as Element sends
them), with progress events and cancellation."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nio.events import MegolmEvent

from .. import paths
from ..config import Settings
from ..fsutil import write_private_file
from .crypto.attachments import AttachmentError, decrypt_attachment, encrypt_attachment, parse_mxc
from .errors import DownloadError, EngineError
from .events import EngineEvent, TransferProgress
from .media import Media, Source, file_content, guess_mimetype, image_facts, media_of, safe_filename, unique_path

if TYPE_CHECKING:
    from .commands import RoomCommands
    from .nio.client import EngineClient
    from .timeline.timelines import Timelines

logger = logging.getLogger(__name__)

PROGRESS_EVERY = 0.1  # seconds between progress events of one transfer


class Transfers:
    def __init__(
        self,
        client: EngineClient,
        timelines: Timelines,
        commands: RoomCommands,
        settings: Settings,
        emit: Callable[[EngineEvent], None],
    ) -> None:
        self._client = client
        self._timelines = timelines
        self._commands = commands
        self._settings = settings
        self._emit = emit
        self._running: dict[str, asyncio.Task[Any]] = {}

    # -- reading a message's file ------------------------------------------------------------

    async def event_content(self, room_id: str, event_id: str) -> dict[str, Any]:
        """The (decrypted) content of a message: from the timeline we hold, else the server."""
        timeline = self._timelines.get(room_id)
        facts = timeline.events.facts(event_id) if timeline is not None else None
        if facts is not None:
            # What the timeline read of the event (decrypted; deleted content is gone).
            if not facts.readable:
                raise EngineError("the message cannot be decrypted (yet): its key has not arrived")
            if facts.redacted is not None:
                raise EngineError("the message was deleted")
            return dict(facts.content)
        resp = await self._client.room_get_event(room_id, event_id)
        event = getattr(resp, "event", None)
        if event is None:
            raise EngineError(f"no message {event_id} in this room (or not one you can see)")
        if isinstance(event, MegolmEvent):
            try:
                event = self._client.decrypt_event(event)
            except Exception as exc:
                raise EngineError(f"the message cannot be decrypted: {exc}") from None
        if isinstance(event, MegolmEvent):
            raise EngineError("the message cannot be decrypted (yet): its key has not arrived")
        source = getattr(event, "source", None)
        content = source.get("content") if isinstance(source, dict) else None
        if not isinstance(content, dict):
            raise EngineError("the message has no content")
        return content

    async def media(self, room_id: str, event_id: str) -> Media:
        try:
            return media_of(await self.event_content(room_id, event_id))
        except AttachmentError as exc:
            raise EngineError(f"cannot download: {exc}") from None

    async def download(
        self, room_id: str, event_id: str, *, thumbnail: bool = False, transfer_id: str | None = None
    ) -> tuple[Media, bytes]:
        """The file of a message (or its thumbnail, when it has one), checked and decrypted."""
        media = await self.media(room_id, event_id)
        source = media.thumbnail if thumbnail and media.thumbnail is not None else media.source
        limit = self._settings.download_max_bytes
        if source is media.source and media.size is not None and media.size > limit:
            raise EngineError(
                f"the file is {media.size:,} bytes; downloads are limited to {limit:,} (download_max_bytes)")
        transfer_id = transfer_id or secrets.token_hex(6)
        progress = self._reporter(transfer_id, room_id, media.name, False)
        data = await self._run(transfer_id, self._fetch(source, limit, progress))
        return media, data

    async def _fetch(self, source: Source, limit: int, progress: Callable[[int, int | None], None]) -> bytes:
        server, media_id = parse_mxc(source.url)
        try:
            data = await self._client.download_media(server, media_id, limit=limit, on_progress=progress)
        except DownloadError as exc:
            raise EngineError(f"could not download the file: {exc}") from None
        if source.file is None:
            return data
        try:
            return decrypt_attachment(data, source.file)
        except AttachmentError as exc:
            raise EngineError(f"the downloaded file is not what the message says: {exc}") from None

    async def save(self, room_id: str, event_id: str, path: Path | None = None) -> Path:
        """Download a message's file and write it (0600): to `path` (a file, or a directory to
        put it in), or into the downloads directory. Names from the message are made safe and
        never overwrite a file."""
        media, data = await self.download(room_id, event_id)
        if path is None:
            directory = self.downloads_dir()
            target = unique_path(directory, safe_filename(media.name))
        elif path.is_dir():
            target = unique_path(path, safe_filename(media.name))
        else:
            target = path
        try:
            write_private_file(target, data)
        except OSError as exc:
            raise EngineError(f"cannot write {target}: {exc.strerror or exc}") from None
        logger.info("saved the file of %s (%d bytes) to %s", event_id, len(data), target)
        return target

    def downloads_dir(self) -> Path:
        configured = self._settings.downloads_dir
        directory = Path(configured).expanduser() if configured else paths.downloads_dir()
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EngineError(f"cannot use the downloads directory {directory}: {exc.strerror or exc}") from None
        return directory

    # -- sending a file --------------------------------------------------------------------------

    async def send_file(self, room_id: str, path: Path, *, transfer_id: str | None = None) -> str:
        """Upload `path` and send it as an m.image (images) or m.file; returns the event id."""
        try:
            if not path.is_file():
                raise EngineError(f"{path} is not a file")
            size = path.stat().st_size
        except OSError as exc:
            raise EngineError(f"cannot read {path}: {exc.strerror or exc}") from None
        limit = await self._upload_limit()
        if size > limit:
            raise EngineError(f"{path.name} is {size:,} bytes; the server takes at most {limit:,}")
        room = await self._commands.joined_room(room_id)
        data = await asyncio.to_thread(path.read_bytes)
        name = path.name
        mimetype = guess_mimetype(path)
        image = image_facts(data) if mimetype.startswith("image/") else None
        transfer_id = transfer_id or secrets.token_hex(6)
        progress = self._reporter(transfer_id, room_id, name, True)

        async def upload() -> dict[str, Any]:
            thumbnail = None
            if image is not None and image.thumbnail is not None:
                thumbnail = await self._upload(image.thumbnail, image.thumbnail_mimetype or "image/jpeg",
                                               None, room.encrypted, lambda done, total: None)
            source = await self._upload(data, mimetype, name, room.encrypted, progress)
            return file_content(name, mimetype, len(data), source, image=image, thumbnail=thumbnail)

        content = await self._run(transfer_id, upload())
        return await self._commands.send_content(room_id, content, "send the file")

    async def _upload(
        self, data: bytes, mimetype: str, name: str | None, encrypted: bool, progress: Callable[[int, int], None]
    ) -> Source:
        try:
            if encrypted:
                ciphertext, info = encrypt_attachment(data)
                url = await self._client.upload_media(ciphertext, "application/octet-stream", on_progress=progress)
                return Source(url, {**info, "url": url})
            url = await self._client.upload_media(data, mimetype, filename=name, on_progress=progress)
            return Source(url)
        except (RuntimeError, OSError, asyncio.TimeoutError) as exc:
            raise EngineError(f"could not upload the file: {exc or type(exc).__name__}") from None
        except Exception as exc:  # aiohttp's errors
            raise EngineError(f"could not upload the file: {type(exc).__name__}: {exc}") from None

    async def _upload_limit(self) -> int:
        own = self._settings.upload_max_bytes
        try:
            status, answer = await self._client.raw_json("GET", "/_matrix/client/v1/media/config")
        except Exception:
            return own
        size = answer.get("m.upload.size") if status == 200 else None
        if isinstance(size, int) and not isinstance(size, bool) and size > 0:
            return min(size, own)
        return own

    # -- progress and cancelling ---------------------------------------------------------------

    def _reporter(self, transfer_id: str, room_id: str, name: str, upload: bool) -> Callable[[int, int | None], None]:
        last = [0.0]

        def report(done: int, total: int | None) -> None:
            now = time.monotonic()
            if now - last[0] >= PROGRESS_EVERY or (total is not None and done >= total):
                last[0] = now
                self._emit(TransferProgress(transfer_id, room_id, name, done, total, upload))

        return report

    async def _run(self, transfer_id: str, work: Any) -> Any:
        task = asyncio.ensure_future(work)
        self._running[transfer_id] = task
        try:
            return await task
        except asyncio.CancelledError:
            if task.cancelled() and transfer_id not in self._running:
                raise EngineError("cancelled") from None
            raise
        finally:
            self._running.pop(transfer_id, None)

    def cancel(self, transfer_id: str) -> bool:
        task = self._running.pop(transfer_id, None)
        if task is None or task.done():
            return False
        task.cancel()
        return True
