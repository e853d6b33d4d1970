"""Settings for the fuzz suite (see profile.py) and the figures it prints at the end."""

from __future__ import annotations

import pytest

from tests.fuzz import profile


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/fuzz/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.fuzz)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ARG001
    if not profile.RAN:
        return
    total = sum(profile.RAN.values())
    seconds = sum(profile.SECONDS.values())
    terminalreporter.write_sep("-", f"fuzz ({profile.PROFILE} profile): {total:,} examples over "
                                    f"{len(profile.RAN)} targets, {seconds:.0f} s in the targets")
    if profile.PROFILE == "long" or config.getoption("verbose") > 0:
        for name, count in sorted(profile.RAN.items()):
            terminalreporter.write_line(f"  {count:>8,}  {profile.SECONDS[name]:7.1f} s  {name}")
