"""The terminal's answers (asked once, before the app starts) choose how images are previewed:
sixel where the terminal says it draws sixels, kitty's protocol where it answers its query,
coloured half cells everywhere else (also when nothing answers)."""

from __future__ import annotations

from tui_client.ui.terminal_graphics import DEFAULT_CELL, Graphics, parse

DA1_PLAIN = b"\x1b[?62;22c"  # a VT220-like terminal: no sixel
DA1_SIXEL = b"\x1b[?62;4;22c"
KITTY_OK = b"\x1b_Gi=31;OK\x1b\\"


def test_a_terminal_that_draws_sixels_gets_sixel_previews_with_the_cell_size_it_reports() -> None:
    assert parse(b"\x1b[6;18;9t" + DA1_SIXEL, None) == Graphics("sixel", (9, 18))


def test_kittys_answer_chooses_its_protocol_and_a_cell_size_already_known_is_kept() -> None:
    assert parse(KITTY_OK + DA1_PLAIN, (8, 16)) == Graphics("tgp", (8, 16))


def test_a_terminal_that_answers_only_the_device_attributes_gets_half_cells() -> None:
    assert parse(DA1_PLAIN, None) == Graphics("halfcell", DEFAULT_CELL)


def test_no_answer_at_all_or_a_garbled_one_still_gives_half_cells() -> None:
    assert parse(b"", None) == Graphics("halfcell", DEFAULT_CELL)
    assert parse(b"\x1b[6;0;0tzz\x1b_Gi=31;ENOENT\x1b\\", None) == Graphics("halfcell", DEFAULT_CELL)


def test_the_questions_go_to_a_real_terminal_once_and_its_mode_is_restored(monkeypatch) -> None:
    """Through a pseudo-terminal whose other end answers like a sixel terminal that does not
    know kitty's protocol: one round trip, and the line's mode is as it was before."""
    import os
    import pty
    import sys
    import termios
    import threading

    from tui_client.ui import terminal_graphics

    master, slave = pty.openpty()
    stdin, stdout = os.fdopen(os.dup(slave), "r"), os.fdopen(os.dup(slave), "w")
    monkeypatch.setattr(sys, "__stdin__", stdin)
    monkeypatch.setattr(sys, "__stdout__", stdout)
    monkeypatch.setattr(terminal_graphics, "_answer", None)
    monkeypatch.setattr(terminal_graphics, "_thread", None)
    asked = bytearray()

    def terminal() -> None:
        while b"\x1b[c" not in asked:
            asked.extend(os.read(master, 1024))
        os.write(master, b"\x1b[6;20;10t" + DA1_SIXEL)

    answering = threading.Thread(target=terminal, daemon=True)
    answering.start()
    mode = termios.tcgetattr(slave)
    try:
        terminal_graphics.start()
        assert terminal_graphics.graphics() == Graphics("sixel", (10, 20))
        answering.join(5)
        assert asked.count(b"\x1b[c") == 1 and b"\x1b[16t" in asked
        assert termios.tcgetattr(slave) == mode
    finally:
        stdin.close()
        stdout.close()
        os.close(master)
        os.close(slave)
