"""What the parts of the key backup share: the endpoint, the record of a finished restore, and
the view of `BackupManager` that the upload queue and the restorer are given (so that they do
not import the manager that owns them)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ...crypto.backup import BackupInfo
    from ...models import BackupStatus

PATH = "/_matrix/client/v3/room_keys"
RESTORED_KV = "backup_restored_version"  # the backup version whose whole restore finished


class BackupView(Protocol):
    """What the upload queue and the restorer see of the manager."""

    info: BackupInfo | None  # the account's current backup, as the server last described it
    keys_on_server: int | None

    @property
    def can_upload(self) -> bool: ...

    def key_matches(self) -> bool: ...

    @property
    def held_key(self) -> bytes | None: ...

    def require_key(self) -> BackupInfo: ...

    async def refresh(self) -> BackupStatus: ...

    def emit_status(self, *, force: bool = False) -> None: ...
