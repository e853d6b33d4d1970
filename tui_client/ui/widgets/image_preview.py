"""An image shown inside the timeline as coloured half cells (two pixels a cell), in any
terminal: the timeline draws lines (timeline_window.py), and the graphics protocols (kitty's,
sixel) draw widgets, which lines cannot hold. `o` opens the file itself.
"""

from __future__ import annotations

import io
from typing import Any

from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

MAX_PIXELS = 40_000_000  # a decompression bomb is refused, not decoded


def decode(data: bytes) -> Any:
    """A Pillow image from bytes (for a preview: small, RGB), or None if they are not one."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.thumbnail((800, 600))
            return image.convert("RGB")
    except Exception:
        return None


FILE_MSGTYPES = ("m.image", "m.file", "m.audio", "m.video")


def is_image(item: Any) -> bool:
    """Whether a timeline item is an image message (its file can be previewed)."""
    return has_file(item) and item.msgtype == "m.image"


def has_file(item: Any) -> bool:
    """Whether a timeline item is a message with a file (image, file, audio, video) that can be
    downloaded: not deleted, not undecryptable (a sticker's image is not one)."""
    return item.attachment is not None and item.msgtype in FILE_MSGTYPES and not item.redacted


def half_cells(image: Any, width: int, rows: int) -> list[Strip]:
    """The image in `rows` lines at most `width` cells wide, two pixels a cell ("▀": the upper in
    the foreground, the lower in the background), its shape kept."""
    high = rows * 2
    wide = max(1, round(high * image.width / max(1, image.height)))
    if wide > width:
        wide, high = width, max(2, round(width * image.height / max(1, image.width)) // 2 * 2)
    small = image.resize((wide, high))
    pixels = small.load()
    strips = []
    for y in range(0, high, 2):
        segments = []
        for x in range(wide):
            top, bottom = pixels[x, y], pixels[x, y + 1] if y + 1 < high else pixels[x, y]
            segments.append(Segment("▀", Style(color=Color.from_rgb(*top[:3]), bgcolor=Color.from_rgb(*bottom[:3]))))
        strips.append(Strip(segments, wide).simplify())
    return strips
