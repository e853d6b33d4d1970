from __future__ import annotations

import logging

from tui_client.logs import RingBufferHandler, RedactingFilter, redact


def test_tokens_and_keys_are_redacted():
    line = (
        'GET /sync?access_token=syt_abc123 Authorization: Bearer syt_zzz '
        '{"session_key": "AQAAAAsecret", "password": "hunter2", "k": "jwkkey"}'
    )
    out = redact(line)
    for secret in ("syt_abc123", "syt_zzz", "AQAAAAsecret", "hunter2", "jwkkey"):
        assert secret not in out
    assert "<redacted>" in out


def test_ring_buffer_keeps_the_last_lines_redacted():
    handler = RingBufferHandler(capacity=3)
    handler.addFilter(RedactingFilter())
    log = logging.getLogger("test.ring")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    seen = []
    handler.subscribe(seen.append)
    try:
        for i in range(5):
            log.info("line %d token=%s", i, "access_token=syt_leak")
    finally:
        log.removeHandler(handler)
    lines = handler.snapshot()
    assert [l.message.split()[1] for l in lines] == ["2", "3", "4"]
    assert all("syt_leak" not in l.message for l in lines)
    assert len(seen) == 5


def test_log_lines_carry_no_terminal_controls_and_cannot_be_forged():
    import io
    import re

    from tui_client.logs import SafeFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(SafeFormatter("%(levelname)s %(message)s"))
    log = logging.getLogger("test.safe")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        log.warning("no session %s from device %s", "S\x1b]52;c;cHduZWQ=\x07", "D\x9b2J\u202eEVIL")
        log.info("name %s", "Mallory\nINFO logged in as @admin:example.org")
        try:
            raise ValueError("bad \x1b[6n value")
        except ValueError:
            log.exception("failed on %s", "\x1b]0;title\x07room")
    finally:
        log.removeHandler(handler)
    text = stream.getvalue()
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", text)
    lines = text.splitlines()
    assert lines[0] == "WARNING no session S from device D\\u202eEVIL"
    assert lines[1] == "INFO name Mallory\\nINFO logged in as @admin:example.org"  # no second line
    assert lines[2] == "ERROR failed on room" and lines[3] == "Traceback (most recent call last):"
    assert lines[-1] == "ValueError: bad  value"


def test_log_files_are_private_even_after_rotation(tmp_path):
    import os
    import stat

    from tui_client.logs import PrivateRotatingFileHandler

    old = os.umask(0o022)
    try:
        handler = PrivateRotatingFileHandler(tmp_path / "x.log", maxBytes=200, backupCount=2, encoding="utf-8")
        record = logging.LogRecord("t", logging.INFO, __file__, 1, "x" * 150, None, None)
        for _ in range(4):
            handler.emit(record)
        handler.close()
    finally:
        os.umask(old)
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == ["x.log", "x.log.1", "x.log.2"]
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
