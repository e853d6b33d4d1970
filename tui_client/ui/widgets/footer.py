"""Textual's Footer, recomposed only when what it shows changes.

Textual's Footer unmounts and mounts all its keys whenever the screen's bindings are refreshed,
and the main screen refreshes them often (the room list's highlight, each sync state change):
each time a layout of the screen and new styles for a dozen widgets, 20-40 ms of the UI loop
while a sync or a key bundle import runs. This one compares what it would show first.
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widgets import Footer as TextualFooter


class Footer(TextualFooter):
    _shown: Any = None

    def _signature(self, screen: Screen[Any]) -> Any:
        palette = self.app.COMMAND_PALETTE_BINDING
        return self.show_command_palette, tuple(
            (key, binding.key, binding.action, binding.description, binding.group, binding.tooltip, enabled, tooltip)
            for key, (_, binding, enabled, tooltip) in screen.active_bindings.items()
            if binding.show or key == palette
        )

    def bindings_changed(self, screen: Screen[Any]) -> None:
        if self.is_attached and screen is self.screen and screen.app.app_focus:
            signature = self._signature(screen)
            if self._bindings_ready and signature == self._shown:
                return
            self._shown = signature
        super().bindings_changed(screen)
