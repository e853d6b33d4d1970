"""Room keys to and from Element's passphrase-protected key files, with the shareable flag.

Imported keys go through the same merge rules as every other copy (`room_keys`): a file never
replaces a better or more trusted key we hold. A wrong passphrase or a damaged file changes
nothing."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .crypto.key_export import (
    ExportedKey,
    KeyExportError,
    decrypt_export,
    encrypt_export,
    export_entries,
    parse_export_entries,
)
from .crypto.megolm import MegolmKeyError, import_exported
from .errors import EngineError
from ..fsutil import write_private_file
from .nio.olm import changed, inbound_session
from .room_keys import Origin, SessionMeta

if TYPE_CHECKING:
    from .nio.olm import AppOlm

logger = logging.getLogger(__name__)


class KeyFiles:
    def __init__(self, olm: AppOlm, clock: Callable[[], float]) -> None:
        self._olm = olm
        self._clock = clock

    async def export(self, path: Path, passphrase: str, room_id: str | None = None) -> int:
        """Write our Megolm keys (all, or one room's) to a passphrase-protected file (0600)."""
        olm = self._olm
        keys = [
            ExportedKey(
                s.room_id, s.sender_key, s.id, s.export_session(s.first_known_index), s.ed25519,
                tuple(s.forwarding_chain), bool((m := olm.meta_for(s.room_id, s.id)) and m.shared_history),
            )
            for s in olm.inbound_group_store
            if room_id is None or s.room_id == room_id
        ]
        data = json.dumps(export_entries(keys)).encode()
        try:
            text = await asyncio.to_thread(encrypt_export, data, passphrase)
            await asyncio.to_thread(write_private_file, Path(path), text.encode())
        except KeyExportError as exc:
            raise EngineError(str(exc)) from None
        except OSError as exc:
            raise EngineError(f"cannot write {path}: {exc.strerror or exc}") from None
        logger.info("exported %d room keys to %s", len(keys), path)
        return len(keys)

    async def import_(self, path: Path, passphrase: str) -> tuple[int, int, int]:
        """Import keys from an Element-style key file. Returns (imported, already had, skipped)."""
        try:
            text = await asyncio.to_thread(Path(path).read_text, encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise EngineError(f"cannot read {path}: {exc}") from None
        try:
            data = await asyncio.to_thread(decrypt_export, text, passphrase)
            keys, skipped = parse_export_entries(data)
        except KeyExportError as exc:
            raise EngineError(str(exc)) from None
        candidates = []
        for key in keys:
            try:
                inner = import_exported(key.session_key, key.session_id)
            except MegolmKeyError as exc:
                logger.warning("skipped a key from %s: %s", path, exc)
                skipped += 1
                continue
            session = inbound_session(inner, key.room_id, key.sender_key, key.sender_claimed_ed25519,
                                      list(key.forwarding_chain))
            meta = SessionMeta(key.room_id, key.session_id, key.sender_key, key.shared_history, Origin.IMPORT,
                               received_at=self._clock())
            candidates.append((session, meta))
        outcomes = self._olm.merge_sessions(candidates)
        self._olm.persist(*changed(outcomes))
        imported = sum(1 for o in outcomes if o.stored)
        logger.info("imported %d keys from %s (%d already known, %d skipped)",
                    imported, path, len(outcomes) - imported, skipped)
        return imported, len(outcomes) - imported, skipped
