"""``bifrost backtest``, ``optimize``, ``walk-forward`` and ``warm``: built-in strategies on stored bars.

Loaded only when one of its verbs runs (see `bifrost.cli`): it imports the engine. Every
result printed says its trading costs (``costs: no costs`` without commission), and a
sweep the parameter sets it skipped for violating the strategy's constraints.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from bifrost._paths import output_path
from bifrost.cli._common import JsonOpt, echo_json, end_bound, finite, records, store
from bifrost.config import load_settings
from bifrost.data import Adjustment, Frequency, Panel
from bifrost.errors import InvalidInputError
from bifrost.strategy import (
    STRATEGIES,
    Backend,
    BacktestResult,
    Commission,
    DividendMode,
    FillAt,
    FillModel,
    SearchMethod,
    backtest,
    check_lookahead,
    costs_label,
    optimize,
    parse_grid,
    parse_params,
    walk_forward,
    warm,
)
from bifrost.strategy._optimize import MAX_BACKTESTS
from bifrost.strategy._strategies import resolve_strategy, strategy_params

app = typer.Typer(help="Backtest a built-in strategy on stored bars; check one for look-ahead.", add_completion=False)
optimize_app = typer.Typer(add_completion=False)
walk_forward_app = typer.Typer(add_completion=False)
warm_app = typer.Typer(add_completion=False)

SymbolsOpt = Annotated[list[str], typer.Option("--symbols", help="Symbols (repeat, or comma-separated).")]
ParamOpt = Annotated[list[str] | None, typer.Option("--param", help="A strategy parameter, name=value (repeat).")]
CashOpt = Annotated[float, typer.Option(help="Starting cash.", callback=finite)]
SizeOpt = Annotated[
    float | None, typer.Option(help="Trade a fixed number of shares (strategies with a size).", callback=finite)
]
CommissionOpt = Annotated[
    float, typer.Option(help="Commission as a share of traded value (0.001 = 0.1%).", callback=finite)
]
PerShareOpt = Annotated[float, typer.Option(help="Commission per share.", callback=finite)]
MinimumOpt = Annotated[float, typer.Option(help="Minimum commission per fill (with --per-share).", callback=finite)]
FillAtOpt = Annotated[FillAt, typer.Option(help="Market orders fill at the next open or this close.")]
SlippageOpt = Annotated[float, typer.Option(help="Adverse slippage in basis points.", callback=finite)]
StartOpt = Annotated[str | None, typer.Option(help="First date (inclusive).")]
EndOpt = Annotated[str | None, typer.Option(help="Last date (inclusive), or a time of day (exclusive).")]
AdjustmentOpt = Annotated[
    Adjustment,
    typer.Option(
        help="Price adjustment of the bars traded: split_adjusted (the default; the dividends are cash, "
        "--dividends), adjusted (total return in the prices), or raw (as printed: a split is a false loss)."
    ),
]
FrequencyOpt = Annotated[Frequency | None, typer.Option(help="Bar size traded (default: as stored).")]
WarmupOpt = Annotated[
    int | None,
    typer.Option(
        help="Bars before each out-of-sample window for the indicators (default: what the chosen parameters "
        "need, as the strategy declares).",
        min=0,
    ),
]
DividendsOpt = Annotated[
    DividendMode,
    typer.Option(
        help="The recorded dividends on raw or split-adjusted prices: credited as cash, reinvested, or ignored "
        "(price return)."
    ),
]


def _symbols(values: list[str]) -> list[str]:
    out = [s.strip() for v in values for s in v.split(",") if s.strip()]
    if not out:
        raise typer.BadParameter("give at least one symbol", param_hint="--symbols")
    return out


def _params(strategy: str, pairs: list[str] | None, size: float | None) -> dict[str, Any]:
    out = parse_params(strategy, pairs or [])
    if size is not None:
        accepted = strategy_params(resolve_strategy(strategy)[1])
        if "size" not in accepted:
            raise InvalidInputError(f"{strategy} sizes its own positions; --size does not apply")
        if "size" in out:
            raise InvalidInputError("size is given twice (--size and --param size=...); give it once")
        out["size"] = size
        if "size_type" in accepted:
            out["size_type"] = "shares"
    return out


def _panel(
    symbols: list[str], start: str | None, end: str | None, adjustment: Adjustment, frequency: Frequency | None
) -> Panel:
    with store() as bars:
        wanted = _symbols(symbols)
        panel = (
            bars.read_panel(wanted, start, end_bound(end), adjustment=adjustment)
            if frequency is None
            else bars.read_panel(wanted, start, end_bound(end), adjustment=adjustment, frequency=frequency)
        )
    for note in panel.notes:
        typer.echo(f"note: {note}", err=True)
    return panel


def _fill(commission: float, per_share: float, minimum: float, fill_at: Any, slippage_bps: float) -> FillModel:
    return FillModel(
        fill_at=fill_at,
        slippage_bps=slippage_bps,
        commission=Commission(percent=commission, per_share=per_share, minimum=minimum),
    )


def _print_result(result: BacktestResult) -> None:
    typer.echo(f"{result.strategy} {dict(result.params)} on {', '.join(result.symbols)}")
    first, last = result.ts[0], result.ts[-1]
    intraday = first != first.normalize() or last != last.normalize()
    span = f"{first:%Y-%m-%d %H:%M} … {last:%Y-%m-%d %H:%M} UTC" if intraday else f"{first.date()} … {last.date()}"
    typer.echo(f"{span}, {len(result.ts)} bars, {result.adjustment} prices")
    for name, value in result.metrics.items():
        typer.echo(f"  {name:18} {value:,.6g}")
    typer.echo(f"final value {result.final_value:,.4f}  trades {result.n_trades}  fills {len(result.fills)}")
    typer.echo(f"costs: {costs_label(result.fill_model)}")
    typer.echo(f"{result.measured}: dividends {result.dividend_cash:,.2f} ({len(result.dividend_events)} credited)")


def _backtest_command(strategy: str) -> None:
    def command(
        symbols: SymbolsOpt,
        param: ParamOpt = None,
        cash: CashOpt = 100_000.0,
        size: SizeOpt = None,
        commission: CommissionOpt = 0.0,
        per_share: PerShareOpt = 0.0,
        minimum: MinimumOpt = 0.0,
        fill_at: FillAtOpt = "open",
        slippage_bps: SlippageOpt = 0.0,
        start: StartOpt = None,
        end: EndOpt = None,
        adjustment: AdjustmentOpt = "split_adjusted",
        frequency: FrequencyOpt = None,
        dividends: DividendsOpt = "cash",
        tearsheet: Annotated[Path | None, typer.Option(help="Also write the tearsheet to this HTML file.")] = None,
        json_out: JsonOpt = False,
    ) -> None:
        if tearsheet is not None:
            output_path(tearsheet, "--tearsheet")
        params = _params(strategy, param, size)
        fill = _fill(commission, per_share, minimum, fill_at, slippage_bps)
        result = backtest(
            _panel(symbols, start, end, adjustment, frequency), strategy, params, cash=cash, fill=fill,
            dividends=dividends,
        )  # fmt: skip
        if tearsheet is not None:
            result.tearsheet().to_html(tearsheet)
        if json_out:
            typer.echo(result.to_json())
        else:
            _print_result(result)

    command.__doc__ = f"Backtest {strategy} on stored bars: metrics, trades and final value (--json: all fills)."
    app.command(strategy)(command)


for _name in STRATEGIES:
    _backtest_command(_name)


@app.command("check-lookahead")
def backtest_check_lookahead(
    strategy: Annotated[str, typer.Argument(help="A built-in strategy.")],
    symbols: SymbolsOpt,
    param: ParamOpt = None,
    trials: Annotated[int, typer.Option(help="Random cut points.")] = 8,
    seed: Annotated[int, typer.Option(help="Seed of the cut points.", min=0)] = 0,
    start: StartOpt = None,
    end: EndOpt = None,
    adjustment: AdjustmentOpt = "split_adjusted",
    frequency: FrequencyOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Rerun a strategy on data cut at random points; fail (exit 1) if a past signal changes."""
    report = check_lookahead(
        _panel(symbols, start, end, adjustment, frequency),
        strategy,
        _params(strategy, param, None),
        trials=trials,
        seed=seed,
    )
    if json_out:
        echo_json({"ok": report.ok, "report": str(report)})
    else:
        typer.echo(str(report))
    if not report.ok:
        raise typer.Exit(1)


@optimize_app.command("optimize")
def optimize_command(
    strategy: Annotated[str, typer.Argument(help="A built-in strategy.")],
    symbols: SymbolsOpt,
    grid: Annotated[list[str], typer.Option("--grid", help="name=start:stop:step (stop included) or name=a,b,c.")],
    param: ParamOpt = None,
    objective: Annotated[str, typer.Option(help="The metric to maximise.")] = "sharpe_ratio",
    method: Annotated[SearchMethod, typer.Option(help="Every grid point, or --n-iter random ones.")] = "grid",
    n_iter: Annotated[int | None, typer.Option(help="Random points to try (with --method random).", min=1)] = None,
    seed: Annotated[int, typer.Option(help="Seed of the random search.", min=0)] = 0,
    backend: Annotated[Backend, typer.Option(help="In process, or on Ray.")] = "local",
    address: Annotated[str | None, typer.Option(help="Ray cluster address (default: a local Ray).")] = None,
    cash: CashOpt = 100_000.0,
    size: SizeOpt = None,
    commission: CommissionOpt = 0.0,
    fill_at: FillAtOpt = "open",
    start: StartOpt = None,
    end: EndOpt = None,
    adjustment: AdjustmentOpt = "split_adjusted",
    frequency: FrequencyOpt = None,
    top: Annotated[int, typer.Option(help="Rows of the ranking to print.", min=1)] = 10,
    heatmap: Annotated[Path | None, typer.Option(help="Write the objective's heatmap (HTML) here.")] = None,
    max_backtests: Annotated[
        int | None,
        typer.Option(help="Refuse a sweep of more backtests (default: max_backtests setting, or 1,000,000).", min=1),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Sweep a strategy's parameters on every symbol; rank by the objective."""
    from bifrost._paths import write_text

    if heatmap is not None:
        output_path(heatmap, "--heatmap")
        if len(grid) < 2:
            raise InvalidInputError(f"--heatmap needs two --grid parameters, got {len(grid)}")
    fixed = _params(strategy, param, size)
    space: dict[str, Any] = parse_grid(strategy, grid)
    for name in space.keys() & fixed.keys():
        raise InvalidInputError(f"{name} is given twice (--grid and --param); give it once")
    space.update({k: [v] for k, v in fixed.items()})
    settings = load_settings()
    memory_mb = settings.max_sweep_memory_mb
    result = optimize(
        _panel(symbols, start, end, adjustment, frequency), strategy, space, method=method, n_iter=n_iter, seed=seed,
        objective=objective, cash=cash, fill=_fill(commission, 0.0, 0.0, fill_at, 0.0), backend=backend,
        address=address, progress=not json_out and sys.stderr.isatty(),
        max_backtests=max_backtests or settings.max_backtests or MAX_BACKTESTS,
        max_memory_bytes=None if memory_mb is None else memory_mb * 2**20,
    )  # fmt: skip
    if heatmap is not None:
        write_text(heatmap, result.heatmap().to_html(include_plotlyjs=True), "--heatmap")
    if json_out:
        rows = json.loads(result.frame.to_json(orient="records"))
        echo_json({
            "best": result.best(), "objective": objective, "rows": rows, "costs": result.costs,
            "skipped": result.skipped, "constraints": list(result.constraints),
        })  # fmt: skip
    else:
        typer.echo(result.summary().head(top).to_string())
        typer.echo(f"best by {objective}: {result.best()}")
        for note in result.notes():
            typer.echo(note)


@walk_forward_app.command("walk-forward")
def walk_forward_command(
    strategy: Annotated[str, typer.Argument(help="A built-in strategy.")],
    symbols: SymbolsOpt,
    grid: Annotated[list[str], typer.Option("--grid", help="name=start:stop:step (stop included) or name=a,b,c.")],
    train_bars: Annotated[int, typer.Option(help="Bars of each in-sample window.", min=2)],
    test_bars: Annotated[int, typer.Option(help="Bars of each out-of-sample window (the last may be shorter).", min=2)],
    param: ParamOpt = None,
    anchored: Annotated[bool, typer.Option(help="Start every in-sample window at the first bar.")] = False,
    warmup_bars: WarmupOpt = None,
    objective: Annotated[str, typer.Option(help="The metric each in-sample sweep maximises.")] = "sharpe_ratio",
    backend: Annotated[Backend, typer.Option(help="In process, or on Ray.")] = "local",
    cash: CashOpt = 100_000.0,
    size: SizeOpt = None,
    commission: CommissionOpt = 0.0,
    fill_at: FillAtOpt = "open",
    start: StartOpt = None,
    end: EndOpt = None,
    adjustment: AdjustmentOpt = "split_adjusted",
    frequency: FrequencyOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Optimise on each in-sample window and trade the winner out of sample; chain the folds."""
    fixed = _params(strategy, param, size)
    space: dict[str, Any] = parse_grid(strategy, grid)
    for name in space.keys() & fixed.keys():
        raise InvalidInputError(f"{name} is given twice (--grid and --param); give it once")
    space.update({k: [v] for k, v in fixed.items()})
    result = walk_forward(
        _panel(symbols, start, end, adjustment, frequency), strategy, space, train_bars=train_bars,
        test_bars=test_bars, anchored=anchored, warmup_bars=warmup_bars, objective=objective, cash=cash,
        fill=_fill(commission, 0.0, 0.0, fill_at, 0.0), backend=backend,
    )  # fmt: skip
    equity = result.equity
    if json_out:
        echo_json({
            "strategy": result.strategy, "objective": objective, "folds": records(result.folds),
            "total_return": result.total_return, "final_value": float(equity.iloc[-1]), "bars": len(equity),
            "start": equity.index[0].isoformat(), "end": equity.index[-1].isoformat(), "warmup": result.warmup,
            "costs": result.costs, "skipped": result.skipped, "constraints": list(result.constraints),
        })  # fmt: skip
        return
    shown = [c for c in result.folds.columns if c not in ("train_start", "partial")]
    table = result.folds[shown].copy()
    for column in ("train_end", "test_start", "test_end"):
        table[column] = [ts.date() if ts == ts.normalize() else ts for ts in table[column]]
    typer.echo(table.to_string(index=False))
    typer.echo(
        f"out of sample: {result.total_return:+.4%} over {len(equity):,} bars ({equity.index[0].date()} … "
        f"{equity.index[-1].date()}), final value {float(equity.iloc[-1]):,.2f}"
    )
    if result.folds["partial"].iloc[-1]:
        typer.echo(f"the last fold is partial: the {int(result.folds['test_bars'].iloc[-1])} bars left over")
    for note in result.notes():
        typer.echo(note)


@warm_app.command("warm")
def warm_command(json_out: JsonOpt = False) -> None:
    """Compile the engine's numba kernels into the user's cache once (cheap when already warm)."""
    from bifrost._jit import cache_dir

    if not json_out:
        typer.echo(f"bifrost warm: loading or compiling the numba kernels in {cache_dir()} "
                   "(the first time takes a minute or so)...", err=True)  # fmt: skip
    report = warm()
    if json_out:
        echo_json({
            "cache_dir": None if report.cache_dir is None else str(report.cache_dir), "loaded": report.loaded,
            "compiled": report.compiled, "seconds": report.seconds,
        })  # fmt: skip
    else:
        typer.echo(f"bifrost warm: {report}")
