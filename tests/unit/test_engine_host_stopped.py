"""Work asked of the engine host after it stopped (a UI worker still running while the app
quits) fails at once with a sentence, instead of waiting forever (or for `call`'s 10 s) on a
loop that will never run it, and leaves no coroutine unawaited."""

from __future__ import annotations

import gc
import warnings

import pytest

from tui_client.engine.errors import EngineError
from tui_client.engine.host import EngineHost


class Engine:
    closed = False

    async def close(self) -> None:
        self.closed = True

    async def rooms(self) -> list[str]:
        return ["!a:hs"]


def test_work_after_stop_fails_at_once_and_leaves_nothing_unawaited():
    engine = Engine()
    host = EngineHost(engine)  # type: ignore[arg-type]
    host.start()
    assert host.run(lambda e: e.rooms()).result(5) == ["!a:hs"]
    host.stop()
    assert engine.closed
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        later = host.run(lambda e: e.rooms())
        assert later.done(), "it would never have run"
        with pytest.raises(EngineError, match="stopped"):
            later.result(0)
        with pytest.raises(EngineError, match="stopped"):
            host.call(lambda e: e.closed)
        del later
        gc.collect()
    assert not [w for w in caught if "never awaited" in str(w.message)]
