"""Every `bifrost ...` line of README.md (today's and those before issue 11) parses: the README cannot rot.

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

from bifrost.cli import _check_argv, _command
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


# the README's command lines before the command line became a package (issue 11): they keep working
BEFORE_ISSUE_11 = (
    "bifrost data ingest csv orcl.csv --symbol ORCL",
    "bifrost data ingest csv all_stocks_5yr.csv.gz --on-error repair",
    "bifrost data ingest yahoo AAPL MSFT --start 2020-01-01",
    "bifrost data ingest synthetic --symbols 500 --days 5000",
    "bifrost data list [--format json]",
    "bifrost data show ORCL --start 2014-01-01 --end 2014-12-31 [--adjustment adjusted] [--format json]",
    "bifrost data show ORCL --frequency 1mo",
    "bifrost data check",
    "bifrost data check --store [--repair]",
    "bifrost data split LNT 2016-05-19 2",
    "bifrost data info",
    "bifrost portfolio create core --inception 2014-01-01 [--cost-basis average] [--long-only]",
    "bifrost portfolio import core transactions.csv",
    "bifrost portfolio list",
    "bifrost portfolio show core [--format json]",
    "bifrost report tearsheet core -o report.html --benchmark SPY",
    "bifrost backtest sma_cross --symbols ORCL --param fast=10 --param slow=30 --size 100 --cash 100000 "
    "--commission 0.001 --json",
    "bifrost backtest momentum --symbols AAPL,MSFT,XOM --param lookback=126 --param top_n=2",
    "bifrost backtest check-lookahead sma_cross --symbols ORCL",
    "bifrost optimize sma_cross --symbols ORCL,NVDA --grid fast=5:50:5 --grid slow=20:200:20 "
    "[--backend ray] [--objective sharpe_ratio] [--heatmap heat.html]",
    "bifrost risk var core --method historical --confidence 0.99 --horizon 10 [--json]",
    "bifrost risk stress core --window 1 --window 20 --period GFC=2008-09-01:2009-03-09 --shocks shocks.toml",
    "bifrost risk limits core [--set limits.toml] [--no-record] [--strict] [--json]",
    "bifrost risk alerts [core] [--since 2026-11-01] [--json]",
    "bifrost risk backtest core --method filtered_historical",
    "bifrost risk report core --out risk.html",
    "bifrost serve risk --port 3000",
)
LINES = list(dict.fromkeys([*_readme_lines(), *BEFORE_ISSUE_11]))


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
    _check_argv(_command(), argv)
    ctx = command.make_context(" ".join(path), rest)  # raises a usage error for any option or value it refuses
    assert ctx.params is not None
