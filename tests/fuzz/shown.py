"""Everything a front end shows of a timeline item, made the way the TUI and the CLI make it,
and the check that none of it can act on a terminal."""

from __future__ import annotations

import json
import re
from datetime import timezone
from typing import Any

from tui_client.cli.output import item_json, name_text
from tui_client.engine.models import KeyProvenance, TimelineItem
from tui_client.safe_text import clean, json_text
from tui_client.ui.timefmt import TimeFormatter
from tui_client.ui.widgets.message import MessageView, make_view
from tui_client.ui.widgets.message_text import item_details
from tui_client.ui.widgets.rows import Rows

# C0 controls but tab and newline, DEL, C1 controls, lone surrogates.
TERMINAL_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
UTC = TimeFormatter(tz=timezone.utc)


def assert_terminal_safe(text: str, what: str = "text") -> None:
    bad = TERMINAL_UNSAFE.search(text)
    assert bad is None, f"{what} would write {bad.group()!r} to the terminal: {text[:200]!r}"
    text.encode("utf-8")  # what the terminal is sent: strict UTF-8, or the front end crashes


def shown(item: TimelineItem) -> list[str]:
    """The strings the TUI (timeline entry, detail line) and the CLI (`history`, `--json`)
    would print for `item`."""
    view = make_view(item, UTC)
    if isinstance(view, MessageView):
        view.readers = (item.sender_name,)  # "seen by" them too
    texts = [str(Rows(view.rows())), item_details(item, UTC).plain]  # all the rows the view draws
    # `tui-client history` (cli/rooms.py), line by line and as --json
    body = clean(item.body) if item.body is not None else f"⚠ {name_text(item.failure_reason)}"
    badge = f"  [{name_text(item.provenance.badge)}]" if item.provenance else ""
    texts.append(clean(f"{name_text(item.sender_name)}: {body}{badge}"))
    as_json = json_text([item_json(item)])
    assert json.loads(as_json) == json.loads(json.dumps([item_json(item)])), "--json changed a value"
    texts.append(as_json)
    return texts


class Context:
    """The engine's `TimelineContext`, with hostile names."""

    own_user_id = "@me:localhost"

    def __init__(self, name: str = "Alice", provenance: KeyProvenance | None = None,
                 failure: tuple[str, str] = ("unknown", "no key for this message yet")) -> None:
        self.name, self.provenance, self.failure = name, provenance, failure

    def display_name(self, room_id: str, user_id: str) -> str:
        return self.name

    def provenance_for(self, room_id: str, session_id: str | None) -> KeyProvenance | None:
        return self.provenance

    def describe_failure(self, room_id: str, event: Any) -> tuple[str, str]:
        return self.failure
