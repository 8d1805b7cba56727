"""The command line as a whole: every sub-command is listed and documents itself."""

from __future__ import annotations

import subprocess
import sys

import pytest

from absaction.cli import COMMANDS, build_parser, main


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for name in COMMANDS:
        assert name in text


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([name, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert f"absaction {name}" in text
    assert len(text.splitlines()) > 3


def test_every_command_is_registered() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) == set(COMMANDS)  # type: ignore[arg-type]


def test_console_script_module_entry() -> None:
    out = subprocess.run([sys.executable, "-m", "absaction", "--version"], capture_output=True, text=True)
    assert out.returncode == 0
    assert out.stdout.startswith("absaction ")
