from __future__ import annotations

import os
import stat

import pytest

from tui_client.engine.session import SessionFileError, SessionInfo, load_session, save_session


def _info() -> SessionInfo:
    return SessionInfo("http://127.0.0.1:1", "@a:x", "DEV", "syt_secret_token", SessionInfo.new_store_key())


def test_saved_session_is_private_and_round_trips(tmp_path):
    path = save_session(tmp_path, _info())
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    info = _info()
    save_session(tmp_path, info)
    assert load_session(tmp_path) == info


def test_repr_never_shows_secrets():
    info = _info()
    assert "syt_secret_token" not in repr(info) and info.store_key not in repr(info)


def test_missing_and_damaged_files(tmp_path):
    assert load_session(tmp_path) is None
    (tmp_path / "session.json").write_text("{not json")
    with pytest.raises(SessionFileError, match="cannot read"):
        load_session(tmp_path)
    (tmp_path / "session.json").write_text('{"homeserver": "x"}')
    with pytest.raises(SessionFileError, match="incomplete"):
        load_session(tmp_path)


def test_loosened_permissions_are_tightened(tmp_path):
    path = save_session(tmp_path, _info())
    os.chmod(path, 0o644)
    load_session(tmp_path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
