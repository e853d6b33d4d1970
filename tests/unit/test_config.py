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
