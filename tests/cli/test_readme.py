"""Every `bifrost ...` line in README.md's code blocks parses against the command tree, so the README cannot rot.

Each line is parsed as the command would parse it (options, choices, numbers, repeated
options) without running it; an optional part written ``[--json]`` is tried both without
and with it.
"""

from __future__ import annotations

import itertools
import re
import shlex
from collections.abc import Iterator
from typing import Any

import pytest
from typer import TyperException
from typer._click import Context

from bifrost.cli import _command, _refuse_repeated
from bifrost.errors import BifrostError
from tests.conftest import ROOT

_OPTIONAL = re.compile(r"\[([^\[\]]+)\]")


def _readme_lines() -> Iterator[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for block in re.findall(r"```(?:bash|sh|console)\n(.*?)```", text, flags=re.DOTALL):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            if line.strip().startswith("bifrost "):
                yield line.strip()


def _variants(line: str) -> list[list[str]]:
    # every optional part left out, then every one put in (brackets dropped)
    words = " ".join(shlex.split(line, comments=True))
    without, with_all = _OPTIONAL.sub("", words), _OPTIONAL.sub(r"\1", words)
    return [shlex.split(without)[1:], shlex.split(with_all)[1:]]


LINES = list(_readme_lines())


def _leaf(argv: list[str]) -> tuple[Any, list[str], list[str]]:
    command = _command()
    path = ["bifrost"]
    rest = list(argv)
    while rest and hasattr(command, "get_command"):
        sub = command.get_command(Context(command, info_name=path[-1]), rest[0])
        assert sub is not None, f"no command {rest[0]!r} under {' '.join(path)}"
        path.append(rest.pop(0))
        command = sub
    return command, path, rest


def test_readme_has_the_command_lines() -> None:
    verbs = {line.split()[1] for line in LINES}
    assert {"data", "portfolio", "report", "backtest", "optimize", "risk", "serve"} <= verbs, verbs
    assert len(LINES) >= 25


@pytest.mark.parametrize(
    "argv", [pytest.param(v, id=" ".join(v)[:80]) for v in itertools.chain(*(_variants(line) for line in LINES))]
)
def test_readme_command_line_parses(argv: list[str]) -> None:
    _parse(argv)


@pytest.mark.parametrize(
    "argv",
    [
        ["risk", "var", "core", "--horizn", "3"],
        ["data", "show", "ORCL", "--frequency", "2m"],
        ["data", "show", "ORCL", "--start", "2014-01-01", "--start", "2015-01-01"],
        ["portfolio", "shw", "core"],
    ],
)
def test_readme_check_refuses_a_line_that_does_not_parse(argv: list[str]) -> None:
    with pytest.raises((BifrostError, TyperException, AssertionError)):
        _parse(argv)


def _parse(argv: list[str]) -> None:
    command, path, rest = _leaf(argv)
    assert not hasattr(command, "get_command"), f"{' '.join(path)} is a group: the line names no command"
    _refuse_repeated(_command(), argv)
    ctx = command.make_context(" ".join(path), rest)  # raises a usage error for any option or value it refuses
    assert ctx.params is not None
