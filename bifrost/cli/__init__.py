"""The ``bifrost`` command: one verb group per package, one module per verb group.

A `BifrostError` or a usage error becomes one line on stderr and exit status 2; anything
else is a bug and shows its traceback. The groups that need the backtest engine
(``backtest``, ``optimize``, ``walk-forward``, ``warm``) are loaded when they are called, so that every other verb
starts without importing it.
"""

from __future__ import annotations

import functools
import importlib
import sys
import typing
import warnings
from typing import Any

import typer
import typer.core
from typer._click import Context

from bifrost.cli import audit, compliance, dashboard, data, jobs, orders, portfolio, report, risk, root, serve
from bifrost.cli._common import one_line, show_warning, usage_line
from bifrost.errors import BifrostError

__all__ = ["BUILTIN_STRATEGIES", "app", "main"]

# the built-in strategies (bifrost.strategy.STRATEGIES; a test keeps the two equal): named
# here so that the command tree is known without compiling the engine
BUILTIN_STRATEGIES = ("sma_cross", "momentum", "mean_reversion", "buy_and_hold")

# verb -> (module, its Typer attribute), imported on first use
_LAZY = {
    "optimize": ("bifrost.cli.backtest", "optimize_app"),
    "walk-forward": ("bifrost.cli.backtest", "walk_forward_app"),
    "backtest": ("bifrost.cli.backtest", "app"),
    "warm": ("bifrost.cli.backtest", "warm_app"),
}
_ORDER = (
    "config", "run", "warm", "optimize", "walk-forward", "data", "portfolio", "orders", "book", "audit", "compliance",
    "report", "risk", "serve", "dashboard", "jobs", "backtest",
)  # fmt: skip


class _LazyGroup(typer.core.TyperGroup):
    def list_commands(self, ctx: Any) -> list[str]:
        names = [*self.commands, *_LAZY]
        return sorted(names, key=lambda n: _ORDER.index(n) if n in _ORDER else len(_ORDER))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in _LAZY:
            module, attr = _LAZY[cmd_name]
            command = typer.main.get_command(getattr(importlib.import_module(module), attr))
            command.name = cmd_name
            self.commands[cmd_name] = command
        return self.commands.get(cmd_name)


# no_args_is_help stays off: a group called without its command is a usage error (one line,
# exit 2, the commands named), not forty lines of help
app = typer.Typer(help="Bifrost: research and trading platform.", add_completion=False, cls=_LazyGroup)
app.registered_commands += root.app.registered_commands
app.registered_commands += dashboard.app.registered_commands
for _module in (data, portfolio, orders, audit, compliance, report, risk, serve, jobs):
    app.add_typer(_module.app, name=_module.NAME)
app.add_typer(orders.book_app, name=orders.BOOK_NAME)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``bifrost`` command; returns the exit status.

    A `BifrostError` or a usage error (unknown command or option, missing or malformed
    argument, bad choice, an option given twice) is one line on stderr and exit status 2.
    """
    command = _command()
    with warnings.catch_warnings():
        warnings.showwarning = show_warning
        return _run(command, argv)


@functools.cache
def _command() -> Any:
    # built once per process (typer reads every command's signature): in-process callers
    # such as the tests call main() many times
    return typer.main.get_command(app)


def _run(command: Any, argv: list[str] | None) -> int:
    try:
        _check_argv(command, sys.argv[1:] if argv is None else argv)
        result = command.main(args=argv, prog_name="bifrost", standalone_mode=False)
    except BifrostError as exc:
        print(f"bifrost: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except typer.TyperException as exc:
        print(usage_line(exc), file=sys.stderr)
        return 2
    except typer.Abort:
        print("bifrost: aborted", file=sys.stderr)
        return 1
    except typer.Exit as exc:
        return exc.exit_code
    except BrokenPipeError:
        # the reader went away (`bifrost data show X | head`): not an error of ours
        sys.stderr.close()
        return 1
    return result if isinstance(result, int) else 0


def _check_argv(command: Any, argv: list[str]) -> None:
    # what the parser would accept but no user means, refused before anything runs: an option
    # that takes one value given twice (`--start 2014 --start 2015` kept the last), and a
    # number written with `_` (pydantic reads `1_000` as 1000)
    from bifrost.errors import InvalidInputError

    rest, path = list(argv), ["bifrost"]
    while rest and hasattr(command, "get_command"):
        sub = command.get_command(Context(command, info_name=path[-1]), rest[0])
        if sub is None:
            return  # a usage error the parser reports
        path.append(rest.pop(0))
        command = sub
    where = " ".join(path)
    options = {flag: p for p in command.params if not _is_argument(p) for flag in (*p.opts, *p.secondary_opts)}
    seen: dict[str, str] = {}
    positionals: list[str] = []
    i = 0
    while i < len(rest):
        token = rest[i]
        i += 1
        if token == "--":
            positionals += rest[i:]
            break
        flag, eq, value = token.partition("=") if token.startswith("--") else (token, "", "")
        param = options.get(flag)
        if param is None:
            if not token.startswith("-"):
                positionals.append(token)
            continue
        if not param.multiple:
            if param.name in seen:
                raise InvalidInputError(f"{where}: {seen[param.name]} is given twice (then as {flag}); give it once")
            seen[param.name] = flag
        if _takes_value(param) and not eq and i < len(rest):
            value = rest[i]
            i += 1
        _check_number(where, flag, param, value)
    arguments = [p for p in command.params if _is_argument(p)]
    for param, value in zip(arguments, positionals, strict=False):
        _check_number(where, param.name, param, value)


def _is_argument(param: Any) -> bool:
    return isinstance(param, typer.core.TyperArgument)


def _base(param: Any) -> Any:
    # int | None, list[float] -> int, float
    annotation = param.type_descriptor.annotation
    for _ in range(2):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if typing.get_origin(annotation) is not None and args:
            annotation = args[0]
    return annotation


def _takes_value(param: Any) -> bool:
    return _base(param) is not bool


def _check_number(where: str, name: str, param: Any, value: str) -> None:
    from bifrost.errors import InvalidInputError

    if "_" in value and _base(param) in (int, float):
        raise InvalidInputError(f"{where}: {name} takes a number written as digits (1000, 0.5, 1e-3), got {value!r}")
