from __future__ import annotations

from tui_client.config import Settings, load_settings, parse_settings


def test_defaults_when_missing(tmp_path):
    loaded = load_settings(tmp_path / "nope.toml")
    assert loaded.settings == Settings() and loaded.problems == ()


def test_values_are_read_and_validated():
    settings, problems = parse_settings(
        'default_profile = "work"\nlog_level = "debug"\nbundle_max_bytes = 1024\n'
        'default_history_visibility = "joined"\n[keys]\nscreenshot = "f12"\n'
    )
    assert problems == []
    assert settings.default_profile == "work" and settings.log_level == "DEBUG"
    assert settings.bundle_max_bytes == 1024 and settings.default_history_visibility == "joined"
    assert settings.keys == {"screenshot": "f12"}


def test_bad_values_fall_back_with_reasons():
    settings, problems = parse_settings(
        'bundle_max_bytes = -5\ndefault_history_visibility = "everyone"\nmystery = 1\n'
        'default_profile = "../etc"\ndemo_hints = "yes"\n'
    )
    assert settings == Settings()
    text = "\n".join(problems)
    for key in ("bundle_max_bytes", "default_history_visibility", "mystery", "default_profile", "demo_hints"):
        assert key in text


def test_invalid_toml_keeps_defaults_and_file(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("this is = = not toml")
    loaded = load_settings(path)
    assert loaded.settings == Settings()
    assert loaded.problems and "not valid TOML" in loaded.problems[0]
    assert path.read_text() == "this is = = not toml"


def _finishes(func, timeout: float = 5.0):
    """func()'s result, or a failure if it does not return in time (a FIFO read would block)."""
    import concurrent.futures

    pool = concurrent.futures.ThreadPoolExecutor(1)
    try:
        return pool.submit(func).result(timeout=timeout)
    finally:
        pool.shutdown(wait=False)


def test_a_fifo_or_a_directory_is_refused_without_hanging(tmp_path):
    import os

    fifo = tmp_path / "config.toml"
    os.mkfifo(fifo)
    loaded = _finishes(lambda: load_settings(fifo))
    assert loaded.settings == Settings()
    assert loaded.problems == (f"{fifo} is not a regular file; ignored, using defaults",)
    loaded = _finishes(lambda: load_settings(tmp_path))
    assert loaded.settings == Settings() and "not a regular file" in loaded.problems[0]


def test_a_fifo_session_file_is_an_error_not_a_hang(tmp_path):
    import os

    import pytest

    from tui_client.engine.session import SessionFileError, load_session

    os.mkfifo(tmp_path / "session.json")
    with pytest.raises(SessionFileError, match="not a regular file"):
        _finishes(lambda: load_session(tmp_path))


def test_private_dirs_are_private_all_the_way_down(tmp_path):
    import os
    import stat

    from tui_client.paths import ensure_private_dir

    old = os.umask(0o022)
    try:
        ensure_private_dir(tmp_path / "a" / "b" / "c")
    finally:
        os.umask(old)
    for path in (tmp_path / "a", tmp_path / "a/b", tmp_path / "a/b/c"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700, path

