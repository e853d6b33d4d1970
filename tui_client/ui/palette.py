"""The command palette's only provider: the app's extra commands, every action, then Textual's
system commands (so the app's own come first).

It lists the bindings (with ids) of the app, the current screen and every widget on it whose
class the app names in `binding_sources()`, whether or not that widget has focus, skipping actions
the widget currently disables (`check_action`). Choosing one runs the action on that widget, so
"Accept invite" from the palette does exactly what `a` does in the room list.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import partial
from typing import Any

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.dom import DOMNode

from ..safe_text import clean_id

_DM_QUERY = re.compile(r"^dm\s+(@\S+)$", re.IGNORECASE)


class ActionsProvider(Provider):
    def _actions(self) -> Iterator[tuple[str, str, Any]]:
        """(title, help, callback) for every action available on the current screen."""
        app: Any = self.app
        sources = getattr(app, "binding_sources", None)
        if sources is None:
            return
        labels = {cls: label for label, cls in sources()}
        nodes: list[DOMNode] = [app, self.screen]
        # Only what is on screen: e.g. not the card of an invite the user has moved away from.
        nodes += [w for w in self.screen.query("*") if type(w) in labels and w.region.area]
        seen: set[tuple[int, str]] = set()
        for node in nodes:
            label = labels.get(type(node))
            if label is None:
                continue
            for binding in declared_bindings(type(node)):
                key = (id(node), binding.action)
                if key in seen or binding.action == "command_palette":
                    continue
                seen.add(key)
                try:
                    enabled = node.check_action(binding.action, ())
                except Exception:
                    enabled = False
                if enabled is False:
                    continue
                help_text = f"{app.keys_for(binding)}  ·  {label}"
                if binding.tooltip:
                    help_text = f"{binding.tooltip}  ·  {help_text}"
                yield binding.description, help_text, partial(app.run_action, binding.action, node)

    def _extra(self) -> list[tuple[str, str, Any]]:
        """The app's own commands that are not bindings (the demo's "Invite Charlie")."""
        extra = getattr(self.app, "extra_commands", None)
        return list(extra()) if extra is not None else []

    def _system(self) -> list[tuple[str, str, Any]]:
        """Textual's own entries (theme, keys panel, …), listed after the app's."""
        return [(c.title, c.help, c.callback) for c in self.app.get_system_commands(self.screen)]

    async def discover(self) -> Hits:
        # One provider for everything, so the order is ours: the story's next step, the app's
        # actions (alphabetically), then Textual's.
        ordered = self._extra() + sorted(self._actions(), key=lambda a: a[0].lower()) + self._system()
        for title, help_text, callback in ordered:
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        dm = _DM_QUERY.match(query.strip())
        main: Any = getattr(self.app, "main_screen", None)
        if dm is not None and main is not None and self.screen is main:
            user_id = dm.group(1)
            ask = getattr(main, "ask_direct_chat")
            yield Hit(100.0, f"Direct chat with {clean_id(user_id)}", partial(ask, user_id),
                      help="Open or start the direct chat with them (end-to-end encrypted)")
        matcher = self.matcher(query)
        for title, help_text, callback in [*self._extra(), *self._actions(), *self._system()]:
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)


def declared_bindings(cls: type[DOMNode]) -> list[Binding]:
    """The bindings a class declares with an id and a description (its own, not Textual's)."""
    found: dict[str, Binding] = {}
    for klass in reversed(cls.__mro__):
        for binding in getattr(klass, "BINDINGS", None) or ():
            if isinstance(binding, Binding) and binding.id and binding.description:
                found[binding.id] = binding
    return list(found.values())
