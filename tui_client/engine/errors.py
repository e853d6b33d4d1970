"""The engine's error types, importable without nio (the CLI and the TUI catch them)."""

from __future__ import annotations


class EngineError(Exception):
    """A command failed; the message is meant for the user."""


class NotLoggedIn(EngineError):
    """The profile has no session (log in first), or the server no longer accepts it."""


class Unreachable(EngineError):
    """The homeserver could not be reached at all (no answer, not an error answer): the client
    is offline and shows what it kept from the last sync."""


class SharingFailed(EngineError):
    """Sharing history with an invitee failed, so the invite was not sent (the user decides)."""


class StoreError(EngineError):
    """The profile's crypto store cannot be used for its saved session: missing, empty,
    damaged, written for another device, or not readable with the session's store key.

    The client stops rather than start a new Olm account under the old device id, which would
    lose every key the store held and replace the device keys the server and contacts know."""


class ProfileLockedError(Exception):
    """Another process has the profile open (one process per profile: two writers corrupt nio's
    Olm state, matrix-nio#72). Raised by `Engine.open`; the message names the holder's pid."""


class SessionFileError(Exception):
    """The profile's saved session cannot be read: not a regular file, unreadable, not JSON, or
    incomplete. The message says what to do; nothing was changed."""


class DownloadError(Exception):
    """A media download failed: `status` is the HTTP status (None for a network error), `final`
    says that trying again cannot help."""

    def __init__(self, status: int | None, message: str, *, final: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.final = final
