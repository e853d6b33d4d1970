"""The engine is headless: importing every engine module must not pull in Textual or Rich."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import tui_client.engine


def test_engine_imports_neither_textual_nor_rich():
    package_dir = Path(tui_client.engine.__file__).parent
    modules = sorted(
        "tui_client.engine." + ".".join(p.relative_to(package_dir).with_suffix("").parts)
        for p in package_dir.rglob("*.py")
        if p.name != "__init__.py"
    )
    assert "tui_client.engine.engine" in modules and len(modules) > 8
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [], f"the engine imported UI modules: {out.stdout}"


def test_the_check_would_notice_a_ui_import():
    """Guard against a vacuous test: the same probe does see textual when it is imported."""
    code = "import sys, textual.app; print(any(m.startswith('textual') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
