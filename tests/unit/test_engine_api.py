"""The engine's front-end surface (`engine.api.EngineAPI`) is what the real engine and the UI
tests' fake engine both offer, with the same signatures: the fake cannot drift from the engine
the TUI really talks to, and front ends cannot rely on anything else."""

from __future__ import annotations

import inspect

import pytest

from tests.ui.fake_engine import FakeEngine
from tui_client.engine.api import EngineAPI
from tui_client.engine.engine import Engine


def surface() -> dict[str, object]:
    members = {}
    for name, value in vars(EngineAPI).items():
        if name.startswith("_"):
            continue
        members[name] = value
    for name in getattr(EngineAPI, "__annotations__", {}):
        members.setdefault(name, None)
    return members


def instance_of(implementation: type) -> object:
    import tempfile
    from pathlib import Path

    return FakeEngine() if implementation is FakeEngine else Engine("api", profile_dir=Path(tempfile.mkdtemp()))


def shape(func: object) -> list[tuple[str, object, object]]:
    params = list(inspect.signature(func).parameters.values())[1:]  # without self
    return [(p.name, p.kind, p.default) for p in params]


@pytest.mark.parametrize("implementation", [Engine, FakeEngine], ids=["engine", "fake"])
def test_every_member_of_the_api_is_implemented_alike(implementation):
    problems = []
    for name, declared in surface().items():
        actual = getattr(implementation, name, None)
        if declared is None:  # a plain attribute, set by __init__
            continue
        if isinstance(declared, property):
            if actual is None and not hasattr(instance_of(implementation), name):
                problems.append(f"{name}: missing")
            continue
        if actual is None or not callable(actual):
            problems.append(f"{name}: missing")
            continue
        if inspect.iscoroutinefunction(declared) != inspect.iscoroutinefunction(actual):
            problems.append(f"{name}: async in one, not the other")
        if shape(declared) != shape(actual):
            problems.append(f"{name}: {shape(actual)} != {shape(declared)}")
    assert not problems, "\n".join(problems)


def test_attributes_of_the_api_exist_on_instances(tmp_path):
    engine = Engine("api", profile_dir=tmp_path / "p")
    fake = FakeEngine()
    for name in getattr(EngineAPI, "__annotations__", {}):
        assert hasattr(engine, name), name
        assert hasattr(fake, name), name
