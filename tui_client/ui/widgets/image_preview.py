"""An image shown inside the timeline, through textual-image: a terminal graphics protocol
(kitty's, sixel) where the terminal has one, coloured half-cells everywhere else (and without a
terminal: tests, screenshots).

textual-image is imported with the first preview, told what the terminal answered before the app
started (`ui.terminal_graphics`): importing it asks the terminal, which it cannot do once Textual
owns it, and costs the first frame a tenth of a second or more.
"""

from __future__ import annotations

import io
from typing import Any

from textual.widget import Widget

from .. import terminal_graphics

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


def preview(image: Any) -> Widget:
    widget: Widget = terminal_graphics.widget_class()(image, classes="preview")
    return widget


FILE_MSGTYPES = ("m.image", "m.file", "m.audio", "m.video")


def is_image(item: Any) -> bool:
    """Whether a timeline item is an image message (its file can be previewed)."""
    return has_file(item) and item.msgtype == "m.image"


def has_file(item: Any) -> bool:
    """Whether a timeline item is a message with a file (image, file, audio, video) that can be
    downloaded: not deleted, not undecryptable (a sticker's image is not one)."""
    return item.attachment is not None and item.msgtype in FILE_MSGTYPES and not item.redacted
