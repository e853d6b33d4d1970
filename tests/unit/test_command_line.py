"""The command line: a launch of the TUI is read by the global options alone (the whole grammar
is not built for it), and reads exactly as the whole grammar would read it."""

from __future__ import annotations

import pytest

from tui_client.cli import parser as cli_parser
from tui_client.cli.parser import build_parser, parse_command_line


@pytest.mark.parametrize("argv", [[], ["--profile", "work"], ["--profile=work"], ["-v", "--log-level", "DEBUG"],
                                  ["--prof", "work"]])
def test_a_tui_launch_reads_as_the_whole_grammar_reads_it_without_building_it(argv, monkeypatch):
    expected = vars(build_parser().parse_args(argv))
    monkeypatch.setattr(cli_parser, "build_parser", lambda: pytest.fail("built the whole grammar"))
    args, _ = parse_command_line(argv)
    assert vars(args) == {k: expected[k] for k in vars(args)}
    assert args.command is None


@pytest.mark.parametrize("argv, says", [
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["--profile"], "expected one argument"),
    (["--log-level", "LOUD"], "invalid choice: 'LOUD'"),
])
def test_a_mistake_is_told_with_the_whole_usage(argv, says, capsys):
    with pytest.raises(SystemExit) as exited:
        parse_command_line(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert says in err and "COMMAND" in err, "the usage names the commands"


def test_commands_help_and_version_go_to_the_whole_grammar(capsys):
    args, _ = parse_command_line(["--profile", "work", "rooms", "--json"])
    assert args.command == "rooms" and args.json and args.profile == "work"
    with pytest.raises(SystemExit):
        parse_command_line(["--help"])
    assert "share-preview" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        parse_command_line(["--version"])
    assert capsys.readouterr().out.startswith("tui-client ")


def test_refusing_a_value_later_shows_the_whole_usage(capsys):
    _, refuse = parse_command_line(["--profile", "../x"])
    with pytest.raises(SystemExit):
        refuse("bad profile name")
    err = capsys.readouterr().err
    assert "bad profile name" in err and "COMMAND" in err
