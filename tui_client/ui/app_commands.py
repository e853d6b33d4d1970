"""Commands several screens share: accept a new identity, accept or decline an invite, create a
room.

`SharedCommands` is mixed into `TuiApp` (see app.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import App

from ..engine.models import Invite

if TYPE_CHECKING:
    from textual.worker import Worker

    from .bridge import Bridge

logger = logging.getLogger("tui_client.ui.app")  # its log lines keep the app's name


class SharedCommands(App[int]):
    """For `TuiApp` only: it sets up the state these methods use (see its `__init__`)."""

    bridge: Bridge
    _main: Any

    if TYPE_CHECKING:
        def person(self, user_id: str) -> str: ...

        def refresh_identities(self, announce: bool = False) -> Worker[None]: ...

    # -- commands shared by screens ----------------------------------------------------------

    @work(group="accept_identity", name="Accepting the new identity", exit_on_error=False)
    async def ask_accept_identity(
        self, user_id: str, name: str | None = None, then: Callable[[], object] | None = None
    ) -> None:
        """Explain the risk, then pin `user_id`'s new identity if the user agrees."""
        from .describe import accept_identity_question, fingerprint, person
        from .screens.confirm import ConfirmScreen

        def keys(engine: Any) -> tuple[str | None, str | None]:
            info = getattr(getattr(engine, "identity", None), "identity_info", None)
            if info is None:  # an engine without the component: explain without the keys
                return None, None
            found = info(user_id)
            return found.previous_master_key, found.master_key

        try:
            old, new = await self.bridge.read(keys)
        except Exception as exc:
            logger.info("could not read the identity of %s: %s", user_id, exc)
            old, new = None, None
        label = person(user_id, name) if name else self.person(user_id)
        question = accept_identity_question(label, fingerprint(old), fingerprint(new))
        answer = await self.push_screen_wait(ConfirmScreen(question, confirm="Accept new identity", cancel="Not now"))
        if answer != "yes":
            return
        await self.bridge.read(lambda e: e.accept_identity(user_id))
        self.notify(f"You accepted the new identity of {label}.", title="Identity accepted")
        self.refresh_identities()
        if then is not None:
            then()

    @work(group="invites", name="Accepting the invite", exit_on_error=False)
    async def accept_invite(self, invite: Invite) -> None:
        self.notify(f"Joining {invite.name}…")
        room_id = await self.bridge.call(lambda e: e.join(invite.room_id))
        self.notify(f"You joined {invite.name}", title="Joined")
        if self._main is not None:
            self._main.select_when_listed(room_id)

    def invited(self, room_id: str, user_id: str, result: object) -> None:
        """An invite went out (`result`: the engine's ShareResult, or None). The demo's app notes
        who got keys, for Alice's bot; the plain app has nothing to do."""

    def ask_decline(self, invite: Invite) -> None:
        """Decline after a confirmation (declining cannot be undone without a new invite)."""
        from .screens.confirm import ConfirmScreen

        def answered(answer: str | None) -> None:
            if answer == "yes":
                self.decline_invite(invite)

        question = f"Decline the invite to {invite.name} from {invite.inviter_label}?"
        self.push_screen(ConfirmScreen(question, confirm="Decline"), answered)

    @work(group="invites", name="Declining the invite", exit_on_error=False)
    async def decline_invite(self, invite: Invite) -> None:
        await self.bridge.call(lambda e: e.decline(invite.room_id))
        self.notify(f"Declined the invite to {invite.name}")

    @work(group="create", name="Creating the room", exit_on_error=False)
    async def create_room(self, name: str, encrypted: bool, history_visibility: str) -> None:
        self.notify(f"Creating {name}…")
        room_id = await self.bridge.call(
            lambda e: e.create_room(name, encrypted=encrypted, history_visibility=history_visibility)
        )
        self.notify(f"Created {name}", title="Room created")
        if self._main is not None:
            self._main.select_when_listed(room_id)
