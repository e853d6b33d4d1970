"""The collector is paused around bulk work (a key bundle's import) and always resumed after it:
a process whose collector stayed off would grow without bound."""

from __future__ import annotations

import gc
import threading

import pytest

from tui_client.engine.bulk import collector_paused


@pytest.fixture(autouse=True)
def collector_on():
    gc.enable()
    yield
    gc.enable()


def test_paused_inside_resumed_after_even_on_error():
    with pytest.raises(ValueError):
        with collector_paused():
            assert not gc.isenabled()
            raise ValueError("a hostile bundle")
    assert gc.isenabled()


def test_overlapping_pauses_resume_when_the_last_ends():
    started, release = threading.Event(), threading.Event()

    def other_import() -> None:
        with collector_paused():
            started.set()
            release.wait(5)

    thread = threading.Thread(target=other_import)
    with collector_paused():
        thread.start()
        assert started.wait(5)
    assert not gc.isenabled(), "the other import is still running"
    release.set()
    thread.join(5)
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off():
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()
