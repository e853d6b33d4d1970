"""The UI's view of the engine is an allow-list in spirit: every engine module is either one a
front end may import or is named in the import-linter contract that forbids it to the UI. A new
engine module that is in neither would slip past `lint-imports`; this test catches it."""

from __future__ import annotations

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # import-linter, a test dependency, brings tomli on 3.10
    import tomli as tomllib

import tui_client.engine as engine_package

ROOT = Path(__file__).resolve().parents[2]
FRONT_END_MAY_IMPORT = {"api", "models", "events", "errors", "errors_text", "server_url"}


def ui_forbidden() -> set[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    for contract in config["tool"]["importlinter"]["contracts"]:
        if contract.get("source_modules") == ["tui_client.ui"] and contract["type"] == "forbidden":
            return {m.removeprefix("tui_client.engine.") for m in contract["forbidden_modules"]}
    raise AssertionError("pyproject.toml has no contract forbidding engine modules to the UI")


def test_every_engine_module_is_either_front_end_api_or_forbidden_to_the_ui() -> None:
    here = Path(engine_package.__file__).parent
    modules = {p.stem for p in here.glob("*.py") if p.stem != "__init__"}
    modules |= {p.name for p in here.iterdir() if (p / "__init__.py").exists()}
    forbidden = ui_forbidden()
    unaccounted = sorted(modules - FRONT_END_MAY_IMPORT - forbidden)
    assert not unaccounted, (
        f"engine modules neither in the UI's allowed set nor in its forbidden list: {unaccounted}; "
        "add them to the contract in pyproject.toml (or, if front ends may call them, here)"
    )
    assert not FRONT_END_MAY_IMPORT & forbidden
