"""What every verb shares (`bifrost.cli._common`, `bifrost.cli.main`): one-line errors, usage hints, options."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from bifrost.cli._common import end_bound
from tests.cli import bifrost
from tests.conftest import ORCL, ROOT


@pytest.mark.parametrize(
    ("argv", "start"),
    [
        ([], "bifrost: Missing command (one of: config, run,"),
        (["nosuch"], "bifrost: No such command 'nosuch'. Try 'bifrost --help'."),
        (["data", "show", "ORCL", "--bogus"], "bifrost data show: No such option: --bogus"),
        (["data", "show"], "bifrost data show: Missing argument 'symbol'. Try 'bifrost data show --help'."),
        (["data", "show", "ORCL", "--adjustment", "bogus"], "bifrost data show: Invalid value for '--adjustment'"),
        (["run", "--days", "many"], "bifrost run: Invalid value for '--n-days' / '--days'"),  # the old spelling too
        (["data"], "bifrost data: Missing command (one of: list, show,"),
    ],
)
def test_cli_usage_error_is_one_line_with_the_hint_and_exit_2(tmp_path: Path, argv: list[str], start: str) -> None:
    # issue 10 item 17: a real subprocess, as a user runs it (typer's own click, not the click package)
    env = {**os.environ, "BIFROST_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [sys.executable, "-m", "bifrost.cli", *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(start) and done.stderr.count("\n") == 1, done.stderr
    assert "Try 'bifrost" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "home").exists(), "a usage error touches no store"


def test_installed_typer_is_the_pinned_minor() -> None:
    # cli.main catches typer's vendored click exceptions; a typer outside the pin may move them
    import tomllib
    from importlib.metadata import version

    from packaging.specifiers import SpecifierSet

    pins = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    spec = next(p for p in pins if p.startswith("typer"))
    assert version("typer") in SpecifierSet(spec.removeprefix("typer")), (version("typer"), spec)


def test_cli_read_only_command_on_a_mistyped_home_creates_no_store(tmp_path: Path) -> None:
    # issue 10 item 14: `data list` on a mistyped BIFROST_HOME created an empty store there
    home = tmp_path / "mistyped"
    reads = (["data", "list"], ["data", "show", "ORCL"], ["portfolio", "list"], ["risk", "alerts"], ["orders", "list"])
    for args in (*reads, ["book", "state"]):
        done = bifrost(home, *args)
        assert done.returncode == 2 and done.stderr.startswith(f"bifrost: error: no store at {home}"), done.stderr
        assert done.stderr.count("\n") == 1
    assert not home.exists()


@pytest.mark.parametrize(
    ("end", "bound"),
    [
        ("2014-12-30", "2014-12-31T00:00:00+00:00"),  # a date: the whole day
        ("20141230", "2014-12-31T00:00:00+00:00"),
        ("2014-12-30 12:00", "2014-12-30T12:00:00+00:00"),  # a time: exclusive at that instant
        ("2014-12-30T00:00:00Z", "2014-12-30T00:00:00+00:00"),
        ("2014-12-30T09:30:00-05:00", "2014-12-30T14:30:00+00:00"),
    ],
)
def test_end_bound_of_a_date_is_the_next_day_of_a_time_that_instant(end: str, bound: str) -> None:
    assert end_bound(end) == pd.Timestamp(bound)


def test_end_bound_of_no_end_is_open_and_of_garbage_names_the_option() -> None:
    from bifrost.errors import InvalidInputError

    assert end_bound(None) is None
    with pytest.raises(InvalidInputError, match="--end must be a date"):
        end_bound("someday")


@pytest.mark.parametrize(
    "argv",
    [
        ["data", "show", "ORCL", "--start", "2014-01-01", "--start", "2015-01-01"],
        ["data", "show", "ORCL", "--start=2014-01-01", "--start", "2015-01-01"],
        ["report", "tearsheet", "P", "-o", "a.html", "--out", "b.html"],
        ["risk", "limits", "P", "--record", "--no-record"],
    ],
)
def test_cli_option_given_twice_is_refused_before_anything_runs(tmp_path: Path, argv: list[str]) -> None:
    # it silently kept the last value
    done = bifrost(tmp_path / "home", *argv)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "is given twice" in done.stderr
    assert not (tmp_path / "home").exists()


def test_cli_repeatable_options_stay_repeatable(tmp_path: Path) -> None:
    assert bifrost(tmp_path, "data", "ingest", "csv", str(ORCL), "--symbol", "ORCL").returncode == 0
    done = bifrost(tmp_path, "data", "check", "ORCL", "ORCL", "--json")
    assert done.returncode == 0, done.stderr


# verbs that write a file, serve, or confirm a change in one line print no data
NO_DATA = {
    ("serve", "risk"): "serves until stopped",
    ("dashboard",): "serves until stopped",
    ("jobs", "schedule"): "runs due jobs until stopped; jobs history has what it ran",
    ("report", "tearsheet"): "writes --out",
    ("portfolio", "create"): "one line: created",
    ("portfolio", "import"): "one line: how many imported",
    ("audit", "export"): "writes JSON lines to --out (or stdout)",
    ("audit", "prove"): "the proof is JSON already (stdout or --out)",
}


def test_cli_every_verb_that_prints_data_takes_json() -> None:
    from tests.cli.test_bad_input import LEAVES

    lacking = [path for path, command in LEAVES.items() if not any("--json" in p.opts for p in command.params)]
    assert sorted(lacking) == sorted(NO_DATA), lacking


@pytest.mark.parametrize("verb", [("data", "list"), ("data", "check"), ("portfolio", "list")])
def test_cli_format_json_is_the_same_as_json(tmp_path: Path, verb: tuple[str, ...]) -> None:
    assert bifrost(tmp_path, "data", "ingest", "csv", str(ORCL), "--symbol", "ORCL", "--json").returncode == 0
    new, old = bifrost(tmp_path, *verb, "--json"), bifrost(tmp_path, *verb, "--format", "json")
    assert new.returncode == 0 and new.stdout == old.stdout and new.stdout.startswith(("[", "{")), new.stderr


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--n-days", "1_000"], "bifrost run: --n-days takes a number written as digits"),
        (["risk", "var", "P", "--confidence=0.9_9"], "bifrost risk var: --confidence takes a number"),
        (["data", "split", "ORCL", "2014-06-02", "1_0"], "bifrost data split: ratio takes a number"),  # stored 10
        (["risk", "stress", "P", "--window-days", "1", "--window-days", "2_0"], "--window-days takes a number"),
    ],
)
def test_cli_number_with_underscores_is_refused(tmp_path: Path, argv: list[str], message: str) -> None:
    # pydantic reads 1_000 as 1000: not a number a user types on a command line
    done = bifrost(tmp_path / "home", *argv)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert message in done.stderr and "got '" in done.stderr
    assert not (tmp_path / "home").exists()
