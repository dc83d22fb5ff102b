"""Every verb of the `bifrost` command, fed a bad value of each kind it takes: one line, exit 2.

The command tree is walked programmatically, so a new verb or option is covered the day it
is added. Each parameter's kind comes from its annotation (int, float, path, choice) or, for
strings, from its name (a date, a symbol, a portfolio, a strategy...). Every case starts from
a command line that is valid against a real store (ORCL's backtrader file and a portfolio
holding it) and spoils one value, or leaves out one required argument. The command runs in
process through `bifrost.cli.main`, as the console script does; a few cases also run as a
real subprocess.
"""

from __future__ import annotations

import enum
import inspect
import typing
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer._click as click
import typer.main

from bifrost.cli import app, main
from tests.conftest import ORCL

NOWHERE = "/nonexistent-bifrost-folder/x.html"
DATES = ("start", "end", "since", "inception", "date")
SYMBOLS = ("symbol", "symbols", "benchmark")
BAD_DATES = ("garbage", "1600-01-01", "2300-01-01", "2014-13-45")
BAD_SYMBOLS = ("A\tB", "A\x00B", "X" * 9000, "=HYPERLINK(1)")
BAD_INTS = ("x", "1.5", "-1")
# counts whose size is work or memory: a number no user means is refused, not attempted
HUGE = {
    "horizon_days": "1000000000",
    "window": "1000000000",
    "window_days": "1000000000",
    "worst": "1000000000",
    "n_symbols": "1000000000",
    "n_days": "1000000000",
    "port": "70000",
}
BAD_FLOATS = ("x", "inf", "-inf", "nan", "1e309", "-1")
# an order's quantity and prices are parsed by the library from text (Decimal): the bad numbers, zero, too big
BAD_DECIMALS = (*BAD_FLOATS, "0", "1e308")

# a valid value for each required parameter, by name (what the baseline command line uses)
VALID = {
    "symbol": "ORCL",
    "symbols": "ORCL",
    "date": "2014-06-02",
    "ratio": "2",
    "kind": "split",
    "amount": "0.1",
    "name": "P1",
    "inception": "2014-01-01",
    "strategy": "sma_cross",
    "grid": "fast=5:10:5",
    "train_bars": "1000",
    "test_bars": "500",
    "portfolio": "P1",
    "side": "sell",
    "quantity": "1",
    "order_id": "O1",
    "seq": "1",
    "root": "0" * 64,
}
# values that a command would act on for a long time or over the network if it took them
NOT_RUN = {
    ("serve", "risk"): "starts a server: only its parse-level errors are fed",
    ("dashboard",): "starts a server: only its parse-level errors are fed",
    ("jobs", "schedule"): "runs a scheduler in the foreground: only its parse-level errors are fed",
    ("data", "ingest", "yahoo"): "reaches the network: only values refused before it are fed",
}

TXNS = "txn_id,ts,type,symbol,quantity,price,amount\n1,2014-01-02,deposit,,,,10000\n2,2014-01-02,buy,ORCL,100,37.84,\n"


def _leaves(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if hasattr(command, "list_commands"):
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            yield from _leaves(command.get_command(ctx, name), (*path, name))
    else:
        yield path, command


def _kind(annotation: Any) -> type | None:
    # Annotated[X | None, Info] -> X; a library Literal is a choice
    base = typing.get_args(annotation)[0] if typing.get_origin(annotation) is typing.Annotated else annotation
    if typing.get_origin(base) is typing.Literal:
        return enum.Enum
    args = [a for a in typing.get_args(base) if a is not type(None)]
    if typing.get_origin(base) in (list, typing.Union) or type(base).__name__ == "UnionType":
        base = args[0] if args else base
    if typing.get_origin(base) is list:
        base = typing.get_args(base)[0]
    return base if isinstance(base, type) else None


def _is_output(param: Any) -> bool:
    return "write" in (param.help or "").lower() or param.name in ("output", "out", "tearsheet", "heatmap")


def _bad_values(path: tuple[str, ...], param: Any, kind: type | None) -> list[tuple[str, str]]:
    # (label, value) pairs: each a bad value of the parameter's kind
    name = param.name
    if kind is bool:
        return []
    if kind is not None and issubclass(kind, enum.Enum):
        return [("choice", "bogus")]
    if kind is int:
        return [("int", v) for v in BAD_INTS] + ([("int", HUGE[name])] if name in HUGE else [])
    if kind is float:
        return [("float", v) for v in BAD_FLOATS]
    if kind is not None and issubclass(kind, Path):
        if _is_output(param):
            return [("output path", NOWHERE), ("output path", "/")]
        return [("input path", "/nonexistent-bifrost-folder/in.csv"), ("input path", "/")]
    if path[:1] == ("serve",):
        return []
    if name in DATES:
        return [("date", v) for v in BAD_DATES]
    if name in SYMBOLS:
        return [("symbol", v) for v in BAD_SYMBOLS]
    special = {
        # a name refers to a portfolio, also where it is optional (risk alerts NOSUCH)
        "name": [("name", "A\x00B")] + ([("portfolio", "NOSUCH")] if path[-1] not in ("create", "import") else []),
        "strategy": [("strategy", "nope")],
        "grid": [("grid", "fast=1:1000000000:1"), ("grid", "fast=x"), ("grid", "bogus=1"), ("grid", "fast=1:inf:1")],
        "param": [("param", "fats=3"), ("param", "fast=ten"), ("param", "fast=-5"), ("param", "size=-100")],
        "objective": [("objective", "alpha")],
        "period": [("period", "x"), ("period", "GFC=1600-01-01:1700-01-01"), ("period", "GFC=garbage:2009-03-09")],
        "date_format": [("date format", "%Q")],
        "portfolio": [("portfolio", "A\x00B"), ("portfolio", "NOSUCH")],
        "quantity": [("quantity", v) for v in BAD_DECIMALS],
        "limit_price": [("price", v) for v in (*BAD_DECIMALS, "44.123")],  # off the tick; and on a market order
        "stop_price": [("price", v) for v in (*BAD_DECIMALS, "44.123")],
        "client_order_id": [("client order id", "A\x00B"), ("client order id", "X" * 9000)],
    }
    return special.get(name, [])


def _option(param: Any) -> str:
    return max(param.opts, key=len)


def _baseline(path: tuple[str, ...], command: Any, home: Path) -> dict[str, str]:
    # parameter name -> value: every required one, valid against the store
    values = {}
    for param in command.params:
        if param.name == "file":
            values["file"] = str(home.parent / "txns.csv") if path[-1] == "import" else str(ORCL)
        elif param.required:
            values[param.name] = VALID[param.name]
    if path[-1] == "csv":
        values["symbol"] = "ORCL"
    return values


def _argv(path: tuple[str, ...], command: Any, values: dict[str, str]) -> list[str]:
    argv = list(path)
    for param in command.params:  # positionals in their order, then options
        if isinstance(param, typer.core.TyperArgument) and param.name in values:
            argv.append(values[param.name])
    for param in command.params:
        if not isinstance(param, typer.core.TyperArgument) and param.name in values:
            argv += [_option(param), values[param.name]]
    return argv


LEAVES = dict(_leaves(typer.main.get_command(app)))


def _cases() -> Iterator[Any]:
    for path, command in LEAVES.items():
        hints = typing.get_type_hints(inspect.unwrap(command.callback), include_extras=True)
        for param in command.params:
            kind = _kind(hints.get(param.name))
            values = _bad_values(path, param, kind)
            if path in NOT_RUN and kind not in (int, float) and not (kind and issubclass(kind, enum.Enum)):
                values = [(label, v) for label, v in values if label in ("date", "symbol")]
            for label, value in values:
                shown = value if len(value) < 30 else value[:12] + "…"
                case = f"{' '.join(path)} {param.name}={shown!r} ({label})"
                yield pytest.param(path, param.name, value, None, id=case)
            if param.required:
                yield pytest.param(path, param.name, None, "missing", id=f"{' '.join(path)} without {param.name}")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    base = tmp_path_factory.mktemp("cli-bad-input")
    (base / "txns.csv").write_text(TXNS)
    store = base / "home"
    with pytest.MonkeyPatch.context() as mp:
        # the embedded store whatever the environment says, and a working folder of its own: a
        # command that wrongly succeeds writes its default output there, not in the checkout
        mp.setenv("BIFROST_HOME", str(store))
        for name in ("BIFROST_DATABASE_URL", "BIFROST_CONFIG", "BIFROST_MAX_BACKTESTS"):
            mp.delenv(name, raising=False)
        mp.chdir(base)
        assert _run(["data", "ingest", "csv", str(ORCL), "--symbol", "ORCL"])[0] == 0
        assert _run(["portfolio", "import", "P1", str(base / "txns.csv")])[0] == 0
        # an order for `orders show O1` / `orders cancel O1` (filled, or rejected by P1's limits: either is an order)
        order = ["orders", "submit", "--portfolio", "P1", "--symbol", "ORCL", "--side", "sell", "--quantity", "1"]
        assert _run([*order, "--client-order-id", "O1"])[0] in (0, 1)
        yield store


def _run(argv: list[str]) -> tuple[int, str, str]:
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        warnings.simplefilter("default")
        warnings.simplefilter("ignore", DeprecationWarning)
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(("path", "name", "value", "missing"), list(_cases()))
def test_cli_bad_value_is_one_line_on_stderr_and_exit_2(
    home: Path, path: tuple[str, ...], name: str, value: str | None, missing: str | None
) -> None:
    command = LEAVES[path]
    values = _baseline(path, command, home)
    if missing:
        del values[name]
    else:
        values[name] = value or ""
    argv = _argv(path, command, values)
    code, _, err = _run(argv)
    lines = err.strip().splitlines()
    assert code == 2, f"{argv!r}: exit {code}, stderr {err[-2000:]!r}"
    assert len(lines) == 1 and lines[0].strip(), f"{argv!r}: stderr is not one line: {err[-2000:]!r}"
    assert "Traceback" not in err
    assert len(lines[0]) <= 2100, "a message quotes at most a capped share of what it was given"
