"""Why a Megolm message we hold a key for still does not decrypt, in words (pure)."""

from __future__ import annotations


def classify_decryption_error(error: str, first_known_index: int) -> tuple[str, str]:
    """A failure code and a sentence for a decryption that failed although we hold a key."""
    lowered = error.lower()
    if "unknown message index" in lowered:
        return (
            "index",
            f"the key we hold for this session starts after this message (from index {first_known_index})",
        )
    if "replay" in lowered:
        return "replay", "refused: it reuses the position of an earlier message (possible replay attack)"
    if "parsing payload" in lowered:
        return "malformed", "malformed event: the decrypted content is not valid JSON"
    if "utf-8" in lowered:
        return "malformed", error
    if "base64" in lowered or "damaged" in lowered or "mac" in lowered or "signature" in lowered:
        detail = error.split(": ", 1)[-1] if error.startswith("Error decrypting") else error
        return "damaged", f"the encrypted message is damaged or forged ({detail})"
    return "error", f"could not decrypt: {error or 'unknown error'}"
