"""What commands print: every byte goes through here, sanitised (`safe_text`).

Room names, display names, device names, bodies and ids come from other people; printed raw, an
escape sequence in them is a command to the terminal. Fields are marked as they are put into a
line (`name_text`, `id_text`, `clean` for bodies) and the whole line is cleaned again on the way out.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from ..safe_text import clean, clean_id, clean_name, json_text

logger = logging.getLogger("tui_client.cli")


def name_text(value: Any) -> str:
    return clean_name(None if value is None else str(value))


def id_text(value: Any) -> str:
    return clean_id(None if value is None else str(value))


def out(text: str = "") -> None:
    print(clean(text))


def err(text: str) -> None:
    print(clean_name(text), file=sys.stderr)


def plural(count: int, noun: str) -> str:
    """"1 room key", "3 room keys"."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def print_json(data: Any) -> None:
    sys.stdout.write(json_text(data) + "\n")


def item_json(item: Any) -> dict[str, Any]:
    return {
        "event_id": item.event_id,
        "type": item.event_type,
        "sender": item.sender,
        "sender_name": item.sender_name,
        "timestamp": item.timestamp,
        "body": item.body,
        "decrypted": item.decrypted,
        "failure_reason": item.failure_reason,
        "failure_code": item.failure_code,
        "shared_by": item.provenance.shared_by if item.provenance else None,
        "shared_by_device": item.provenance.shared_by_device if item.provenance else None,
    }
