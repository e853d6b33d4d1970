"""Older history paged in after a restart, below a timeline the offline cache kept, joins the
cached messages without a gap: the server's answer about where the oldest kept message is comes
with a few messages before it (nio does not ask for none), and those are part of the page."""

from __future__ import annotations

import re

import pytest

from tui_client.engine.engine import Engine

pytestmark = pytest.mark.integration


def numbers(engine: Engine, room_id: str) -> list[int]:
    return [int(m.group(1)) for i in engine.timeline(room_id) if (m := re.fullmatch(r"note (\d+)", i.body or ""))]


async def test_history_paged_in_after_a_restart_has_no_gap(engines, tmp_path):
    alice = await engines("alice")
    profile = tmp_path / "bob-profile"
    bob = await engines("bob", profile_dir=profile)
    room_id = await alice.create_room("Notes", history_visibility="shared")
    await alice.invite(room_id, bob.user_id)
    assert await bob.wait_until(lambda: any(i.room_id == room_id for i in bob.invites()), 20)
    await bob.join(room_id)
    assert await alice.wait_until(lambda: alice.room(room_id).joined_count == 2)
    for n in range(60):
        await alice.send_text(room_id, f"note {n}")
    await bob.sync_once()  # a limited sync: the newest few
    while (kept := numbers(bob, room_id)) and kept[0] > 30:
        await bob.paginate_back(room_id, limit=10)
    kept = numbers(bob, room_id)
    assert kept == list(range(kept[0], 60)), "contiguous before the restart"
    await bob.close()  # (the cache is written as it closes)

    again = Engine("bob", profile_dir=profile)
    try:
        assert await again.open()
        assert numbers(again, room_id) == kept, "the cache kept them"
        await again.paginate_back(room_id, limit=10)
        now = numbers(again, room_id)
        assert now[0] < kept[0]
        assert now == list(range(now[0], 60)), f"a gap between the page and the kept messages: {now[:12]}"
    finally:
        await again.close()
