"""The server-side key backup with I/O (`m.megolm_backup.v1.curve25519-aes-sha2`): find the
account's backup, decide whether this device may use it, restore keys from it (all of them in
the background, a room's first when it is opened or before its history is shared), and upload
every new inbound session to it, batched and retried, with its shareable flag.

The crypto and every check of what the server sends are in `crypto.backup`; restored keys go
through the same merge rules as every other copy (`AppOlm.merge_sessions`) with origin
`Origin.BACKUP`, ranked like a key file: a backup never replaces a better or more trusted key.

Where the decryption key comes from: secret storage when the user verifies with the recovery
key (`use_secret_storage`), a new backup made by `setup-recovery` (`secret_for_recovery`), or
another of our devices by secret gossip (`use_backup_key`). It is kept sealed in the store with
the profile's store key, with the backup version it belongs to.

The parts:

- `manager`: `BackupManager`, what the rest of the engine talks to: the server's backup, the key
  this device holds, what it may do with them (trust), the status front ends see, and taking a
  key from secret storage, gossip or a new backup;
- `restore`: restoring keys from the backup, the whole of it or one room's;
- `upload`: the queue of sessions the backup lacks and the loop that uploads them;
- `shared`: what those share: the endpoint, and the view of the manager the other two get.
"""

from .manager import BackupIdentity, BackupManager

__all__ = ["BackupIdentity", "BackupManager"]
