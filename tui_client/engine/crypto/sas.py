"""The crypto of emoji verification (spec "Short Authentication String (SAS) verification",
method ``m.sas.v1``), on vodozemac's ``Sas``: the ephemeral key agreement, the commitment, the
seven emoji (and three numbers) both people compare, and the MACs of the keys each side vouches
for. Pure: no I/O, no state beyond one key agreement.

Only what Element speaks is offered: key agreement ``curve25519-hkdf-sha256``, hash ``sha256``,
MAC ``hkdf-hmac-sha256.v2`` (the old ``hkdf-hmac-sha256`` with its broken base64 is still
accepted from a peer that offers nothing better, as matrix-rust-sdk does).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import vodozemac

from ...records import record
from .canonical import b64encode, canonical_json

__all__ = [
    "KEY_AGREEMENT",
    "HASH",
    "MAC_V2",
    "MAC_V2_UNSTABLE",
    "MAC_V1",
    "MAC_METHODS",
    "SHORT_AUTH_STRINGS",
    "EMOJI",
    "SasError",
    "SasSession",
    "commitment",
    "sas_info",
    "mac_info",
    "emoji_for",
]

KEY_AGREEMENT = "curve25519-hkdf-sha256"
HASH = "sha256"
MAC_V2 = "hkdf-hmac-sha256.v2"
MAC_V2_UNSTABLE = "org.matrix.msc3783.hkdf-hmac-sha256"
MAC_V1 = "hkdf-hmac-sha256"
# In order of preference (what we offer, and what we pick from a peer's offer).
MAC_METHODS = (MAC_V2, MAC_V2_UNSTABLE, MAC_V1)
SHORT_AUTH_STRINGS = ("decimal", "emoji")

# The spec's 64 emoji with their English names (data-definitions/sas-emoji.json).
EMOJI: tuple[tuple[str, str], ...] = (
    ("🐶", "Dog"), ("🐱", "Cat"), ("🦁", "Lion"), ("🐎", "Horse"),
    ("🦄", "Unicorn"), ("🐷", "Pig"), ("🐘", "Elephant"), ("🐰", "Rabbit"),
    ("🐼", "Panda"), ("🐓", "Rooster"), ("🐧", "Penguin"), ("🐢", "Turtle"),
    ("🐟", "Fish"), ("🐙", "Octopus"), ("🦋", "Butterfly"), ("🌷", "Flower"),
    ("🌳", "Tree"), ("🌵", "Cactus"), ("🍄", "Mushroom"), ("🌏", "Globe"),
    ("🌙", "Moon"), ("☁️", "Cloud"), ("🔥", "Fire"), ("🍌", "Banana"),
    ("🍎", "Apple"), ("🍓", "Strawberry"), ("🌽", "Corn"), ("🍕", "Pizza"),
    ("🎂", "Cake"), ("❤️", "Heart"), ("😀", "Smiley"), ("🤖", "Robot"),
    ("🎩", "Hat"), ("👓", "Glasses"), ("🔧", "Spanner"), ("🎅", "Santa"),
    ("👍", "Thumbs Up"), ("☂️", "Umbrella"), ("⌛", "Hourglass"), ("⏰", "Clock"),
    ("🎁", "Gift"), ("💡", "Light Bulb"), ("📕", "Book"), ("✏️", "Pencil"),
    ("📎", "Paperclip"), ("✂️", "Scissors"), ("🔒", "Lock"), ("🔑", "Key"),
    ("🔨", "Hammer"), ("☎️", "Telephone"), ("🏁", "Flag"), ("🚂", "Train"),
    ("🚲", "Bicycle"), ("✈️", "Aeroplane"), ("🚀", "Rocket"), ("🏆", "Trophy"),
    ("⚽", "Ball"), ("🎸", "Guitar"), ("🎺", "Trumpet"), ("🔔", "Bell"),
    ("⚓", "Anchor"), ("🎧", "Headphones"), ("📁", "Folder"), ("📌", "Pin"),
)


class SasError(ValueError):
    """A key agreement or MAC failed; the message says what, for the log."""


def commitment(public_key: str, start_content: Any) -> str:
    """What the accepting side commits to: SHA-256 of its ephemeral public key (unpadded base64)
    followed by the canonical JSON of the ``m.key.verification.start`` content. Raises
    ValueError if the content is not representable as canonical JSON."""
    digest = hashlib.sha256(public_key.encode() + canonical_json(start_content)).digest()
    return b64encode(digest)


def sas_info(
    starter: tuple[str, str, str], accepter: tuple[str, str, str], flow_id: str
) -> str:
    """The HKDF info for the short authentication string: (user, device, ephemeral key) of the
    device that sent the start, then of the one that accepted it, then the flow id."""
    first = "|".join(starter)
    second = "|".join(accepter)
    return f"MATRIX_KEY_VERIFICATION_SAS|{first}|{second}|{flow_id}"


def mac_info(sender: tuple[str, str], receiver: tuple[str, str], flow_id: str, key_id: str) -> str:
    """The HKDF info for the MAC of one key (or of the key list, with key id ``KEY_IDS``)."""
    return f"MATRIX_KEY_VERIFICATION_MAC{sender[0]}{sender[1]}{receiver[0]}{receiver[1]}{flow_id}{key_id}"


def emoji_for(indices: list[int]) -> tuple[tuple[str, str], ...]:
    return tuple(EMOJI[i] for i in indices)


@record
class ShortAuthString:
    emoji: tuple[tuple[str, str], ...]  # seven (symbol, name)
    decimals: tuple[int, int, int]


class SasSession:
    """One side's ephemeral key agreement for one verification."""

    def __init__(self) -> None:
        self._sas: vodozemac.Sas | None = vodozemac.Sas()
        self.public_key: str = self._sas.public_key.to_base64()
        self._established: vodozemac.EstablishedSas | None = None

    @property
    def established(self) -> bool:
        return self._established is not None

    def establish(self, their_public_key: Any) -> None:
        """Agree on the shared secret with the other side's ephemeral key. Raises SasError for a
        key that is not one (or a non-contributory one); can only be done once."""
        if self._sas is None:
            raise SasError("the key agreement was already done")
        if not isinstance(their_public_key, str) or len(their_public_key) > 64:
            raise SasError("the other side's key is not a Curve25519 key")
        try:
            key = vodozemac.Curve25519PublicKey.from_base64(their_public_key)
            self._established = self._sas.diffie_hellman(key)
        except Exception as exc:  # KeyException, SasException: the key is unusable
            raise SasError(f"the other side's key is unusable ({exc})") from None
        self._sas = None

    def _need(self) -> vodozemac.EstablishedSas:
        if self._established is None:
            raise SasError("no key agreement yet")
        return self._established

    def short_auth_string(self, info: str) -> ShortAuthString:
        data = self._need().bytes(info)
        return ShortAuthString(emoji_for(list(data.emoji_indices)), tuple(data.decimals))  # type: ignore[arg-type]

    def mac(self, method: str, message: str, info: str) -> str:
        sas = self._need()
        if method == MAC_V1:
            return sas.calculate_mac_invalid_base64(message, info)
        if method in (MAC_V2, MAC_V2_UNSTABLE):
            return sas.calculate_mac(message, info)
        raise SasError(f"unknown MAC method {method!r}")

    def verify_mac(self, method: str, message: str, info: str, tag: Any) -> bool:
        """Whether `tag` is the MAC of `message`; never raises for a bad tag."""
        if not isinstance(tag, str) or len(tag) > 128:
            return False
        expected = self.mac(method, message, info)
        return hmac.compare_digest(expected.rstrip("=").encode(), tag.rstrip("=").encode())
