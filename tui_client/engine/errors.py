"""Errors the engine raises, without nio: front ends catch these."""

from __future__ import annotations


class DownloadError(Exception):
    """A media download failed: `status` is the HTTP status (None for a network error), `final`
    says that trying again cannot help."""

    def __init__(self, status: int | None, message: str, *, final: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.final = final
