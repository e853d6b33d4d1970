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
