"""The command line as a whole: every sub-command is listed and documents itself, answers --help without
importing torch/SB3/Minari, reads KEY=VALUE one way and its defaults from the config dataclasses."""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys

import pytest

from absaction.cli import COMMANDS, build_parser, main
from absaction.cli._args import KEY_VALUE_SEMANTICS, field_default, field_docs, field_help, key_value
from absaction.errors import AbsactionError, one_line, refuse_unknown_keys


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


# ------------------------------------------------------------------ startup: no heavy import for --help

HEAVY = ("torch", "stable_baselines3", "minari", "rliable", "arch")


@pytest.mark.parametrize("name", ["", *COMMANDS])
def test_help_imports_no_torch_sb3_or_minari(name: str) -> None:
    """`absaction [COMMAND] --help` answers without importing torch, SB3, Minari or rliable (and its arch)
    (each costs seconds)."""
    argv = [name, "--help"] if name else ["--help"]
    code = (
        "import contextlib, io, sys\n"
        "from absaction.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):\n"
        f"    main({argv!r})\n"
        "assert 'usage: absaction' in out.getvalue(), out.getvalue()\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"`absaction {name} --help` imported {done.stdout.strip()}"


# -------------------------------------------------------------------------- KEY=VALUE, one semantics


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("n_steps=64", ("n_steps", 64)),
        ("lr=1e-3", ("lr", 1e-3)),  # YAML 1.1 alone would read this as text
        ("gamma=0.5", ("gamma", 0.5)),
        ("flag=true", ("flag", True)),
        ("x=null", ("x", None)),
        ("net= [8, 8]", ("net", [8, 8])),
        ("opts={a: 1}", ("opts", {"a": 1})),
        ("name='64'", ("name", "64")),  # quoted: text
        ("mode=fo", ("mode", "fo")),
        ("policy_kwargs=dict(net_arch=[8])", ("policy_kwargs", "dict(net_arch=[8])")),
        (" key =a=b", ("key", "a=b")),  # the first = splits
    ],
)
def test_key_value_reads_one_yaml_value(text: str, expected: tuple[str, object]) -> None:
    key, value = key_value(text)
    assert (key, value) == expected
    assert type(value) is type(expected[1])


@pytest.mark.parametrize("text", ["novalue", "=3", " =3"])
def test_key_value_refuses_a_missing_key_or_equals(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="expected KEY=VALUE"):
        key_value(text)


@pytest.mark.parametrize("flag", [("train", "--model-option"), ("rl", "--set"), ("rl", "--env-kwarg")])
def test_every_key_value_flag_documents_the_semantics(
    flag: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    command, option = flag
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert " ".join(KEY_VALUE_SEMANTICS.split()) in text
    assert option in text


# ----------------------------------------------------------------- defaults read from the dataclasses


@dataclasses.dataclass
class _Example:
    size: int = 16
    """channels of the first layer (50 % of the second)"""
    rate: float = 3e-3
    """learning rate of :class:`torch.optim.Adam`, see ``lr``"""
    names: list[int] = dataclasses.field(default_factory=lambda: [8, 4, 2])
    quiet: bool = False
    """no output"""


def test_field_help_reads_doc_and_default_from_the_dataclass() -> None:
    assert field_docs(_Example) == {
        "size": "channels of the first layer (50 % of the second)",
        "rate": "learning rate of torch.optim.Adam, see lr",
        "quiet": "no output",
    }
    assert field_help(_Example, "size") == "channels of the first layer (50 %% of the second) (default: 16)"
    assert field_help(_Example, "rate", "Adam step") == "Adam step (default: 0.003)"
    assert field_help(_Example, "names", "sizes") == "sizes (default: 8,4,2)"
    assert field_help(_Example, "quiet") == "no output"  # an off switch has no default to show
    assert field_default(_Example, "names") == [8, 4, 2]
    with pytest.raises(KeyError):
        field_default(_Example, "missing")


# ----------------------------------------------------------------------------- errors.py helpers


def test_one_line_quotes_the_first_non_blank_line() -> None:
    assert one_line(ValueError("\n  bad   value \nmore context")) == "bad value"
    assert one_line(KeyError()) == "KeyError"


def test_refuse_unknown_keys_names_them_and_the_known_ones() -> None:
    refuse_unknown_keys({"a": 1}, ["a", "b"], "option(s)")  # nothing unknown: no error
    with pytest.raises(AbsactionError) as err:
        refuse_unknown_keys({"z": 1, "y": 2, "a": 3}, ["b", "a"], "option(s)", context=" for X")
    assert str(err.value) == "unknown option(s) y, z for X; use a, b"
