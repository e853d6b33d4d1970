"""Files and images in messages, as plain data (no I/O): what an `m.image` / `m.file` / `m.audio`
/ `m.video` content points at (`media_of`), the content we send for a file (`file_content`),
file names made safe to save (`safe_filename`, `unique_path`), and image sizes and thumbnails
(Pillow, in memory).

Content comes from other people: `media_of` checks it (an encrypted file's description through
`crypto.attachments.check_file_info`) and says why it is unusable rather than guess.
"""

from __future__ import annotations

import io
import mimetypes
import re
import unicodedata
from pathlib import Path
from typing import Any

from ..records import record
from .crypto.attachments import AttachmentError, check_file_info, minimal_file_info, parse_mxc

MEDIA_MSGTYPES = ("m.image", "m.file", "m.audio", "m.video")
THUMBNAIL_SIZE = (800, 600)  # as Element: images larger than this get a thumbnail
MAX_NAME_BYTES = 200


@record
class Source:
    """Where bytes are: an mxc URL, and for an encrypted file its checked description."""

    url: str
    file: dict[str, Any] | None = None  # EncryptedFile v2 (None: not encrypted)

    @property
    def encrypted(self) -> bool:
        return self.file is not None


@record
class Media:
    msgtype: str
    name: str
    mimetype: str | None
    size: int | None
    source: Source
    thumbnail: Source | None = None
    width: int | None = None
    height: int | None = None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _source(url: Any, file: Any) -> Source | None:
    if file is not None:
        problem = check_file_info(file)
        if problem:
            raise AttachmentError(problem)
        return Source(file["url"], minimal_file_info(file))
    if isinstance(url, str):
        parse_mxc(url)
        return Source(url)
    return None


def media_of(content: Any) -> Media:
    """The file a message's content points at; raises AttachmentError saying why not."""
    if not isinstance(content, dict):
        raise AttachmentError("the message has no content")
    msgtype = content.get("msgtype")
    if msgtype not in MEDIA_MSGTYPES:
        raise AttachmentError("this message has no file")
    source = _source(content.get("url"), content.get("file"))
    if source is None:
        raise AttachmentError("the message names no file (no url and no encrypted file)")
    found = content.get("info")
    info: dict[str, Any] = found if isinstance(found, dict) else {}
    thumbnail = None
    try:
        thumbnail = _source(info.get("thumbnail_url"), info.get("thumbnail_file"))
    except AttachmentError:
        thumbnail = None  # a bad thumbnail never hides the file itself
    name = content.get("filename") if isinstance(content.get("filename"), str) else content.get("body")
    mimetype = info.get("mimetype") if isinstance(info.get("mimetype"), str) else None
    return Media(
        msgtype=msgtype,
        name=name if isinstance(name, str) and name else "attachment",
        mimetype=mimetype[:100] if mimetype else None,
        size=_int(info.get("size")),
        source=source,
        thumbnail=thumbnail,
        width=_int(info.get("w")),
        height=_int(info.get("h")),
    )


# -- saving -------------------------------------------------------------------------------------------

_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


def safe_filename(name: str | None, fallback: str = "attachment") -> str:
    """A file name from a message, safe to create in a directory: no path separators or
    control, bidi or invisible characters, no leading dots (hidden files, `..`), not a
    reserved device name, at most 200 bytes, its extension kept."""
    text = unicodedata.normalize("NFC", name or "")
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn"))
    text = _UNSAFE.sub("_", text).strip().strip(".").strip()
    if not text or text.split(".")[0].upper() in _RESERVED:
        text = f"{fallback}{'_' + text if text else ''}"
    stem, dot, ext = text.rpartition(".")
    if not dot or not stem or len(ext) > 16:
        stem, ext = text, ""
    ext_bytes = ("." + ext).encode() if ext else b""
    room = MAX_NAME_BYTES - len(ext_bytes)
    stem_bytes = stem.encode()[:room]
    stem = stem_bytes.decode("utf-8", "ignore").rstrip() or fallback
    return stem + (("." + ext) if ext else "")


def unique_path(directory: Path, name: str) -> Path:
    """`directory / name`, or `name (2).ext`, … when that exists (nothing is overwritten)."""
    candidate = directory / name
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    n = 2
    while candidate.exists() or candidate.is_symlink():
        candidate = directory / (f"{stem} ({n}).{ext}" if ext else f"{stem} ({n})")
        n += 1
    return candidate


# -- sending ------------------------------------------------------------------------------------------


def guess_mimetype(path: Path) -> str:
    found, _ = mimetypes.guess_type(path.name)
    return found or "application/octet-stream"


def msgtype_for(mimetype: str) -> str:
    """m.image for images, else m.file (the CLI's rule; audio and video go as files too)."""
    return "m.image" if mimetype.startswith("image/") else "m.file"


@record
class ImageFacts:
    width: int
    height: int
    thumbnail: bytes | None = None  # JPEG or PNG, when the image is larger than THUMBNAIL_SIZE
    thumbnail_mimetype: str | None = None
    thumbnail_width: int | None = None
    thumbnail_height: int | None = None


def image_facts(data: bytes) -> ImageFacts | None:
    """Size (and a thumbnail, for a large image) of image bytes; None if Pillow cannot read them."""
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width <= THUMBNAIL_SIZE[0] and height <= THUMBNAIL_SIZE[1]:
                return ImageFacts(width, height)
            image.thumbnail(THUMBNAIL_SIZE)
            out = io.BytesIO()
            if image.mode in ("RGBA", "LA", "P"):
                image.save(out, format="PNG")
                mimetype = "image/png"
            else:
                image.convert("RGB").save(out, format="JPEG", quality=85)
                mimetype = "image/jpeg"
            return ImageFacts(width, height, out.getvalue(), mimetype, image.size[0], image.size[1])
    except Exception:
        return None


def file_content(
    name: str, mimetype: str, size: int, source: Source, *, image: ImageFacts | None = None,
    thumbnail: Source | None = None,
) -> dict[str, Any]:
    """The `m.room.message` content for a file we uploaded, as Element sends it."""
    msgtype = msgtype_for(mimetype)
    info: dict[str, Any] = {"mimetype": mimetype, "size": size}
    if image is not None and msgtype == "m.image":
        info["w"], info["h"] = image.width, image.height
        if thumbnail is not None and image.thumbnail is not None:
            info["thumbnail_info"] = {
                "mimetype": image.thumbnail_mimetype, "size": len(image.thumbnail),
                "w": image.thumbnail_width, "h": image.thumbnail_height,
            }
            if thumbnail.file is not None:
                info["thumbnail_file"] = thumbnail.file
            else:
                info["thumbnail_url"] = thumbnail.url
    content: dict[str, Any] = {"msgtype": msgtype, "body": name, "filename": name, "info": info}
    if source.file is not None:
        content["file"] = source.file
    else:
        content["url"] = source.url
    return content
