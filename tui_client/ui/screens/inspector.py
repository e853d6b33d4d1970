"""The crypto inspector (for QA and demos): one room's Megolm sessions (who created each, its first
known index, whether it may be shared, where we got it), withheld-key records, the key bundles
received or awaited, and each member's identity with the devices it cross-signs.

One tab per table so it fits 100x30; the line under the tables spells out the highlighted row in
full (ids, origin, reason). `r` reads the engine again; `c` copies the highlighted id; on a
member whose identity changed, `a` accepts the new identity after a confirmation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static, TabbedContent, TabPane

from ...engine.models import MemberReport, RoomInspection, SessionReport, WithheldReport
from ..describe import (
    bundle_row,
    member_rows,
    pending_bundle_line,
    person,
    session_row,
    visibility_line,
    withheld_row,
)
from ..formatting import clean, clean_id
from ..workers import ReportsWorkerErrors

if TYPE_CHECKING:
    from ..app import TuiApp

TABS = ("sessions", "withheld", "bundles", "members")
# The number is the key that opens the tab (as are ←/→ on the tab bar, or a click).
TITLES = {"sessions": "1 Sessions", "withheld": "2 Withheld", "bundles": "3 Bundles", "members": "4 Members"}
COLUMNS = {
    "sessions": ("Session", "Creator", "Index", "Shareable", "Origin"),
    "withheld": ("Session", "Code", "Reason", "Via", "From"),
    "bundles": ("From", "State", "Keys", "What it means"),
    "members": ("Member", "Identity", "Device", "Device name", "Cross-signed by owner"),
}
EMPTY = {
    "sessions": "no session keys for this room yet",
    "withheld": "no withheld keys",
    "bundles": "no key bundles",
    "members": "no members known",
}


class CryptoInspectorScreen(ReportsWorkerErrors, Screen):
    BINDINGS = [
        Binding("escape,q", "close", "Back", id="close"),
        Binding("r", "refresh", "Refresh", id="inspector_refresh"),
        Binding("c", "copy", "Copy id", id="inspector_copy", tooltip="Copy the highlighted id"),
        Binding("a", "accept_identity", "Accept identity", id="inspector_accept_identity",
                tooltip="Accept the highlighted member's new identity"),
        Binding("1", "tab('sessions')", "Sessions", id="inspector_sessions", show=False),
        Binding("2", "tab('withheld')", "Withheld", id="inspector_withheld", show=False),
        Binding("3", "tab('bundles')", "Bundles", id="inspector_bundles", show=False),
        Binding("4", "tab('members')", "Members", id="inspector_members", show=False),
    ]

    def __init__(self, room_id: str, name: str) -> None:
        super().__init__()
        self.room_id = room_id
        self.room_name = name
        self.report: RoomInspection | None = None
        # What each table row stands for, by tab and row key, for the detail line and copying.
        self._rows: dict[str, dict[str, Any]] = {tab: {} for tab in TABS}

    @property
    def tui(self) -> TuiApp:
        return cast("TuiApp", self.app)

    def compose(self) -> ComposeResult:
        yield Static(self._title(), id="inspector-title", markup=False)
        with TabbedContent(id="inspector-tabs", initial="sessions"):
            for tab in TABS:
                with TabPane(TITLES[tab], id=tab):
                    yield DataTable(id=f"{tab}-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="inspector-detail", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        for tab in TABS:
            self.query_one(f"#{tab}-table", DataTable).add_columns(*COLUMNS[tab])
        self.query_one("#sessions-table", DataTable).focus()
        self.load()

    def _title(self) -> Content:
        parts: list[str | tuple[str, str]] = [("Crypto inspector", "bold"), ("  ·  ", "$foreground-muted"),
                                               (clean(self.room_name), "bold")]
        report = self.report
        if report is not None:
            facts = ["encrypted" if report.encrypted else "not encrypted", f"history: {report.history_visibility}"]
            parts += [("  ·  ", "$foreground-muted"), (clean(" · ".join(facts)), "$foreground-muted")]
        else:
            parts += [("  ·  reading…", "$foreground-muted")]
        return Content.assemble(*parts)

    # -- reading and showing -----------------------------------------------------------------

    @work(exclusive=True, group="inspect", name="Inspecting the room", exit_on_error=False)
    async def load(self) -> None:
        room_id = self.room_id
        report = await self.tui.bridge.read(lambda e: e.inspect_room(room_id))
        self.show(report)

    def show(self, report: RoomInspection) -> None:
        self.report = report
        if report.name:
            self.room_name = report.name
        self.query_one("#inspector-title", Static).update(self._title())
        names = {m.user_id: m.display_name for m in report.members}
        self._fill("sessions", [(s.session_id, s, session_row(s)) for s in report.sessions])
        self._fill("withheld", [(f"{w.session_id}/{n}", w, withheld_row(w)) for n, w in enumerate(report.withheld)])
        bundles: list[tuple[str, Any, tuple[str, ...]]] = [
            (f"bundle{n}", b, bundle_row(b, names.get(b.sender) or b.sender)) for n, b in enumerate(report.bundles)
        ]
        when = self.tui.time_format.full(int(report.pending_since * 1000)) if report.pending_since else None
        pending = pending_bundle_line(report, names.get(report.pending_inviter or ""), when)
        if pending is not None and report.pending_inviter:
            who = person(report.pending_inviter, names.get(report.pending_inviter))
            bundles.append(("pending", pending, (who, "awaited", "—", pending)))
        check = report.prediction
        if check is not None:
            line = check.describe(names.get(check.inviter) or check.inviter)
            state = "as predicted" if not check.missed and not check.surprises else "differs"
            bundles.append(("prediction", line, (person(check.inviter, names.get(check.inviter)), state, "—", line)))
        self._fill("bundles", bundles)
        members = []
        for member in report.members:
            for n, row in enumerate(member_rows(member)):
                members.append((f"{member.user_id}/{n}", member, row))
        self._fill("members", members)
        counts = {
            "sessions": len(report.sessions),
            "withheld": len(report.withheld),
            "bundles": len(bundles),
            "members": len(report.members),
        }
        tabs = self.query_one(TabbedContent)
        for tab in TABS:
            tabs.get_tab(tab).label = f"{TITLES[tab]} ({counts[tab]})"
        self._show_detail()
        self.refresh_bindings()

    def _fill(self, tab: str, rows: Sequence[tuple[str, Any, tuple[str, ...]]]) -> None:
        table = self.query_one(f"#{tab}-table", DataTable)
        cursor = table.cursor_row
        table.clear()
        self._rows[tab] = {}
        if not rows:
            empty = [Text(EMPTY[tab], style="italic dim")] + [Text("")] * (len(COLUMNS[tab]) - 1)
            table.add_row(*empty, key="empty")
            return
        for key, value, cells in rows:
            self._rows[tab][key] = value
            table.add_row(*(self._cell(tab, index, text) for index, text in enumerate(cells)), key=key)
        table.move_cursor(row=min(cursor, len(rows) - 1), animate=False)

    def _cell(self, tab: str, column: int, text: str) -> Text:
        """A table cell: Rich `Text`, which the table measures and never reads as markup (a
        display name like "[b]x[/b]" stays literal), coloured from the theme."""
        text = clean(text)
        variable, bold = None, False
        if tab == "members" and column == 1 and "⚠" in text:
            variable, bold = "text-warning", True
        elif tab == "members" and column == 4:
            variable = "text-success" if text.startswith("✔") else "text-error"
        elif tab == "sessions" and column == 3:
            variable = "text-success" if text == "yes" else "text-warning"
        elif tab == "withheld" and column == 1:
            variable = "text-warning"
        if variable is None:
            return Text(text, style=Style(bold=True) if bold else "")
        colour = self.app.get_css_variables().get(variable)
        try:
            return Text(text, style=Style(color=colour, bold=bold))
        except Exception:  # a theme colour Rich cannot parse: plain is fine
            return Text(text)

    # -- the detail line ---------------------------------------------------------------------

    @property
    def current_tab(self) -> str:
        return self.query_one(TabbedContent).active or "sessions"

    def _highlighted(self, tab: str | None = None) -> Any:
        tab = tab or self.current_tab
        table = self.query_one(f"#{tab}-table", DataTable)
        if not table.row_count:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:
            return None
        return self._rows[tab].get(key or "")

    def _show_detail(self) -> None:
        self.query_one("#inspector-detail", Static).update(self._detail(self._highlighted()))

    def _detail(self, value: Any) -> Content:
        muted = "$foreground-muted"
        if value is None:
            report = self.report
            if report is None:
                return Content.styled("Reading the room's crypto state…", muted)
            return Content.styled(clean(f"history {report.history_visibility}: "
                                        f"{visibility_line(report.history_visibility)}"), muted)
        if isinstance(value, SessionReport):
            lines = [
                Content.assemble(("session ", muted), clean_id(value.session_id)),
                Content.assemble(("creator key ", muted), clean_id(value.creator_key), ("   origin: ", muted),
                                 clean(value.origin)),
                Content(clean(value.origin_detail)),
            ]
        elif isinstance(value, WithheldReport):
            sender = " ".join(p for p in (value.from_user, value.from_device) if p) or "unknown"
            lines = [
                Content.assemble(("session ", muted), clean_id(value.session_id)),
                Content(clean(f"{value.code}: {value.reason or 'no reason given'}")),
                Content.styled(clean(f"via {value.via} from {sender}, "
                                     f"{self.tui.time_format.full(int(value.received_at * 1000))}"), muted),
            ]
        elif isinstance(value, MemberReport):
            table = self.query_one("#members-table", DataTable)
            device_id = str(table.get_row_at(table.cursor_row)[2]) if table.row_count else ""
            device = next((d for d in value.devices if clean(d.device_id) == device_id), None)
            lines = [
                Content.assemble(("member ", muted), clean(person(value.user_id, value.display_name)),
                                 ("  identity ", muted), clean(value.identity)),
                Content.assemble(("master key ", muted), clean_id(value.master_key) or "none published"),
            ]
            if device is not None:
                signed = "cross-signed by its owner" if device.cross_signed_by_owner else "NOT cross-signed by its owner"
                lines.append(Content.assemble(("device ", muted), clean_id(device.device_id), " ", signed,
                                              ("  ed25519 ", muted), clean_id(device.ed25519) or "?"))
            if value.identity == "changed":
                lines.append(Content.styled(
                    f"⚠ This identity changed since you first saw it. Check with them, then accept it "
                    f"({self._key('inspector_accept_identity')}).", "$text-warning"))
        elif isinstance(value, str):
            lines = [Content(clean(value))]
        else:  # a bundle
            row = bundle_row(value, value.sender)
            lines = [Content(clean(row[3])), Content.styled(clean(
                f"from {value.sender}, state {value.state}, "
                f"{self.tui.time_format.full(int(value.received_at * 1000))}"), muted)]
        return Content("\n").join(lines)

    def _key(self, binding_id: str) -> str:
        binding = next(b for b in self.BINDINGS if isinstance(b, Binding) and b.id == binding_id)
        return self.tui.keys_for(binding).split(" / ")[0]

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()
        self.refresh_bindings()

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self._show_detail()
        self.refresh_bindings()

    # -- actions -----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "accept_identity":
            value = self._highlighted("members") if self.current_tab == "members" else None
            return isinstance(value, MemberReport) and value.identity == "changed"
        if action == "copy":
            return self._highlighted() is not None
        return True

    def action_close(self) -> None:
        self.dismiss()

    def action_refresh(self) -> None:
        self.load()
        self.notify("Crypto state read again.", timeout=2)

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        self.query_one(f"#{tab}-table", DataTable).focus()

    def action_copy(self) -> None:
        value = self._highlighted()
        if isinstance(value, (SessionReport, WithheldReport)):
            text, what = value.session_id, "session id"
        elif isinstance(value, MemberReport):
            text, what = value.user_id, "user id"
        elif value is None or isinstance(value, str):
            return
        else:
            text, what = value.sender, "user id"
        self.app.copy_to_clipboard(text)
        self.notify(f"Copied the {what} {text}", timeout=3)

    def action_accept_identity(self) -> None:
        value = self._highlighted("members")
        if isinstance(value, MemberReport) and value.identity == "changed":
            self.tui.ask_accept_identity(value.user_id, value.display_name, then=self.load)
