"""Cross-signing for the engine: our own identity (create, upload, sign our device, unlock it
from secret storage with a recovery key) and other people's (keep what /keys/query returns,
check device ← self-signing key ← master key, pin master keys, notice when they change).

Element only sends key bundles to devices their owner has cross-signed, and only accepts
bundles from such devices (msc4268.md §5), so this package gates history sharing both ways.

`IdentityManager` (`manager`) is what the rest of the engine imports; it forwards to `own` (our
identity on this device), `known` (everyone's identities and pins), `recovery` (secret storage)
and `signing` (what an emoji verification proved).
"""

from .manager import IdentityManager
from .own import IdentityError
from .recovery import StoredSecrets

__all__ = ["IdentityError", "IdentityManager", "StoredSecrets"]
