"""Encrypted history sharing (MSC4268), in one place.

When we invite someone, our client sends them the keys to the room's earlier messages (a key
bundle); when we accept an invite, we import the bundle the inviter sent us, and every message
it opens says who vouched for it.

- `bundle`: the bundle's format (build, serialise, strict and bounded parsing) — pure;
- `rules`: every decision (preview, announcement checks, accept/hold/refuse, downloads, caps) — pure;
- `records` / `store`: what we remember (received bundles, accepted invites, withheld records);
- `sender` / `receiver`: the thin I/O shells; `explain`: why an earlier message cannot be read.

`service.HistorySharing` is what the engine holds: both shells over one record store.
"""

