"""Parameter sweeps, grid and random search, and walk-forward analysis — in process or on Ray.

A sweep runs a strategy for every parameter set on every symbol as independent
backtests (each with its own cash) and keeps one metrics row per (parameter set,
symbol): memory grows with the number of backtests, not with their length. Work is cut
into chunks of symbols; each chunk evaluates every parameter set with one call of the
compiled kernel (indicators shared across parameter sets through the indicator memo).

A sweep knows its size before it starts: the number of backtests (parameter sets ×
symbols) is the product of the grid's lengths, computed without listing the grid, and a
sweep beyond ``max_backtests`` (default 1,000,000) or whose memory estimate exceeds
``max_memory_bytes`` (default: half the machine's memory) is refused with the numbers,
before any work. Grid ranges (:func:`grid_values`) are lazy sequences for the same reason.

The ``ray`` backend runs the same chunks as Ray tasks, with the panel put in Ray's object
store once; results are bit-identical to the in-process backend because each backtest is
computed by the same kernel from the same inputs, whatever chunk it lands in.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np
import pandas as pd

from bifrost._checks import as_positive_int
from bifrost._typing import FloatArray
from bifrost.data import Frequency, Panel
from bifrost.errors import InvalidInputError
from bifrost.strategy import _kernel as K
from bifrost.strategy._costs import NO_COSTS, costs_label
from bifrost.strategy._declare import declaration, required_warmup, violated_constraints
from bifrost.strategy._engine import (
    NO_RULES,
    FillModel,
    KernelInputs,
    Orders,
    RuleArrays,
    Signals,
    annual_bars,
    as_grid,
    check_periods_per_year,
    prepare,
    rule_arrays,
    run_kernel,
    warn_raw_splits,
)
from bifrost.strategy._indicators import memoized
from bifrost.strategy._strategies import Strategy, check_params, compile_for, resolve_strategy, simulate

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from bifrost.compliance._rules import RuleSet

__all__ = [
    "MAX_BACKTESTS",
    "SweepResult",
    "WalkForwardResult",
    "check_sweep_size",
    "grid_points",
    "grid_size",
    "grid_values",
    "optimize",
    "sweep",
    "walk_forward",
]

Backend = Literal["local", "ray"]
SearchMethod = Literal["grid", "random"]
_CELLS_PER_CHUNK = 40_000_000  # bars × backtests per kernel call: bounds a chunk's signal arrays
MAX_BACKTESTS = 1_000_000
"""Default bound on a sweep's backtests (parameter sets × symbols)."""
# memory estimate, bytes: each kept metric value (the kernel's row, the frame, its concat
# copy); each cell (bar × backtest) of a chunk's signal arrays (flags, sizes, indicators of
# the requests, measured ~20 on sma_cross); each kept equity value (kernel array + frame)
_BYTES_PER_VALUE = 24
_BYTES_PER_CHUNK_CELL = 32
_BYTES_PER_EQUITY_VALUE = 16


def _default_memory_limit() -> int:
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        total = 16 * 2**30
    return int(total) // 2


def grid_size(space: Mapping[str, Sequence[Any]]) -> int:
    """Return the number of parameter sets of ``space`` (every combination) without listing them."""
    counts = []
    for name, values in space.items():
        if isinstance(values, str) or not isinstance(values, Sequence) or _count(values) == 0:
            raise InvalidInputError(f"grid {name!r} needs a non-empty list of values, got {_short(values)}")
        counts.append(_count(values))
    return math.prod(counts)


def _count(values: Sequence[Any]) -> int:
    # a range's or FloatRange's length as a Python int: len() overflows past sys.maxsize
    if isinstance(values, range):
        span = values.stop - values.start
        return max(0, (span + values.step - (1 if values.step > 0 else -1)) // values.step)
    if isinstance(values, FloatRange):
        return values.n_values
    return len(values)


def _short(values: Any) -> str:
    text = repr(values)
    return text if len(text) <= 80 else f"{text[:80]}… ({len(text)} characters)"


def check_sweep_size(
    n_sets: int,
    n_symbols: int,
    n_bars: int,
    *,
    n_params: int = 0,
    keep_equity: bool = False,
    max_backtests: int | None = MAX_BACKTESTS,
    max_memory_bytes: int | None = None,
) -> int:
    """Refuse a sweep too large to run; return its memory estimate in bytes.

    The estimate counts the metrics rows kept (``n_sets × n_symbols`` rows), a chunk's
    signal arrays (bars × backtests of one kernel call) and, with ``keep_equity``, every
    equity curve. It is an estimate to stop a sweep that cannot fit, not a measurement.

    Raises
    ------
    InvalidInputError
        If the sweep has more than ``max_backtests`` backtests (None: no bound), or its
        estimate exceeds ``max_memory_bytes`` (default: half the machine's memory).
    """
    for label, value in (("max_backtests", max_backtests), ("max_memory_bytes", max_memory_bytes)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise InvalidInputError(f"{label} must be a positive integer or None, got {value!r}")
    backtests = n_sets * n_symbols
    what = f"{backtests:,} backtests ({n_sets:,} parameter sets × {n_symbols:,} symbols)"
    if max_backtests is not None and backtests > max_backtests:
        raise InvalidInputError(
            f"the sweep would run {what}, more than max_backtests={max_backtests:,}; narrow the grid, "
            "search it with method='random' and n_iter, or raise max_backtests"
        )
    chunk_symbols = min(n_symbols, max(1, _CELLS_PER_CHUNK // max(1, n_sets * n_bars)))
    estimate = (
        backtests * (len(K.METRICS) + n_params + 1) * _BYTES_PER_VALUE
        + chunk_symbols * n_sets * n_bars * _BYTES_PER_CHUNK_CELL
        + (backtests * n_bars * _BYTES_PER_EQUITY_VALUE if keep_equity else 0)
    )
    limit = _default_memory_limit() if max_memory_bytes is None else max_memory_bytes
    if estimate > limit:
        raise InvalidInputError(
            f"the sweep of {what} over {n_bars:,} bars needs about {estimate / 2**30:,.1f} GiB of memory, "
            f"more than the {limit / 2**30:,.1f} GiB allowed (max_memory_bytes); narrow the grid or the "
            f"symbols{', drop keep_equity' if keep_equity else ''}, or raise max_memory_bytes"
        )
    return estimate


def grid_points(space: Mapping[str, Sequence[Any]], *, max_points: int | None = None) -> list[dict[str, Any]]:
    """Return every combination of ``space`` (name → values) as parameter dicts, in order.

    Raises
    ------
    InvalidInputError
        If a name has no values, or the grid has more than ``max_points`` combinations
        (counted before any is listed).
    """
    if not space:
        return [{}]
    names = list(space)
    total = grid_size(space)
    if max_points is not None and total > max_points:
        raise InvalidInputError(f"the grid has {total:,} parameter sets, more than {max_points:,}")
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(space[n] for n in names))]


def _grid_point(space: Mapping[str, Sequence[Any]], index: int) -> dict[str, Any]:
    # the index-th combination in itertools.product's order (the last name varies fastest)
    point: dict[str, Any] = {}
    for name in reversed(list(space)):
        values = space[name]
        index, i = divmod(index, _count(values))
        point[name] = values[i]
    return {name: point[name] for name in space}


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepResult:
    """One metrics row per (parameter set, symbol), and the objective the search ranks by.

    ``skipped`` counts the parameter sets left out because they violate the strategy's
    declared ``constraints`` (`bifrost.strategy.declare`); ``costs`` says which trading
    costs the metrics carry (``"no costs"`` without commission and slippage).
    """

    strategy: str
    frame: pd.DataFrame
    params: tuple[str, ...]
    objective: str
    maximize: bool = True
    equity: pd.DataFrame | None = None  # with keep_equity: column i is the frame's row i
    skipped: int = 0
    constraints: tuple[str, ...] = ()
    costs: str = NO_COSTS
    rules: tuple[str, ...] | None = None  # with compliance rules: the notes on those not applied (else None)

    @property
    def n_sets(self) -> int:
        """The parameter sets run (those skipped are not counted)."""
        return len(self.frame) // max(1, self.frame["symbol"].nunique())

    def notes(self) -> list[str]:
        """Return what a reader of the table must know: the costs, and the sets skipped."""
        out = [f"costs: {self.costs}"]
        if self.rules is not None:
            blocked = int(self.frame["n_blocked"].sum()) if "n_blocked" in self.frame else 0
            out.append(f"compliance rules applied: {blocked:,} orders blocked over every backtest")
            out.extend(self.rules)
        if self.skipped:
            out.append(
                f"skipped {self.skipped:,} parameter "
                f"{'sets that violate' if self.skipped != 1 else 'set that violates'} {' and '.join(self.constraints)}"
            )
        return out

    def summary(self) -> pd.DataFrame:
        """Return the metrics averaged over symbols, one row per parameter set, best first."""
        if not self.params:
            return self.frame.drop(columns="symbol").mean().to_frame().T
        table = self.frame.drop(columns="symbol").groupby(list(self.params), sort=False).mean()
        return table.sort_values(self.objective, ascending=not self.maximize, na_position="last")

    def best(self) -> dict[str, Any]:
        """Return the parameter set with the best mean objective across symbols."""
        top = self.summary().index[0]
        values = top if isinstance(top, tuple) else (top,)
        return {p: _plain(v) for p, v in zip(self.params, values, strict=True)}

    def heatmap(self, x: str | None = None, y: str | None = None, metric: str | None = None) -> go.Figure:
        """Return a plotly heatmap of ``metric`` (default: the objective) over two parameters.

        The figure is a `plotly.graph_objects.Figure` whose notebook output is HTML (plotly.js
        once per kernel), so JupyterLab, nbconvert and Voila all keep it; values in the cells.
        """
        import plotly.graph_objects as go

        from bifrost._plotly import NotebookFigure

        if len(self.params) < 2 and (x is None or y is None):
            raise InvalidInputError("a heatmap needs two parameters; this sweep has " + str(list(self.params)))
        x = x or self.params[0]
        y = y or self.params[1]
        metric = metric or self.objective
        for name in (x, y):
            if name not in self.params:
                raise InvalidInputError(f"{name!r} is not a swept parameter; have {list(self.params)}")
        table = self.frame.groupby([y, x])[metric].mean().unstack(x)
        fig = NotebookFigure(
            go.Heatmap(
                z=table.to_numpy(), x=[str(c) for c in table.columns], y=[str(i) for i in table.index],
                colorbar={"title": {"text": metric}}, texttemplate="%{z:.3g}",
            )
        )  # fmt: skip
        fig.update_layout(title=f"{self.strategy}: {metric} by {x} and {y}", xaxis_title=x, yaxis_title=y)
        fig.update_xaxes(type="category")
        fig.update_yaxes(type="category")
        return fig

    def _repr_html_(self) -> str:
        import html

        head = self.summary().head(10).to_html(float_format=lambda v: f"{v:.4f}")
        notes = "; ".join(html.escape(n) for n in self.notes())
        return (
            f"<b>Sweep</b> {self.strategy}: {self.n_sets} parameter sets × {self.frame['symbol'].nunique()} symbols, "
            f"ranked by {self.objective} ({notes})<br>{head}"
        )


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def _chunk_metrics(
    fields: Mapping[str, FloatArray],
    ts: pd.DatetimeIndex,
    symbols: tuple[str, ...],
    frequency: Frequency,
    strategy: Strategy,
    param_sets: Sequence[Mapping[str, Any]],
    cash: float,
    fill: FillModel,
    per_year: float,
    keep_equity: bool = False,
    rules: RuleArrays = NO_RULES,
) -> tuple[FloatArray, FloatArray | None]:
    # every parameter set on every symbol of this chunk: rows ordered (parameter set, symbol);
    # with keep_equity, also each backtest's equity curve (a recorded run: bit-identical metrics);
    # `rules`: the compliance rules compiled for this chunk's symbols (every column the same)
    panel = Panel(ts=ts, symbols=symbols, fields=fields, frequency=frequency)
    with memoized():
        requests = [strategy(panel, **p) for p in param_sets]
    parts = [prepare(panel, r, cash=cash, fill=fill, per_year=per_year) for r in requests]
    first = parts[0]
    if any(p.signal_mode != first.signal_mode or p.size_type != first.size_type for p in parts):
        raise InvalidInputError("every parameter set must return the same kind of request (Signals/Orders, size type)")
    n_sym = len(symbols)
    n_cols = n_sym * len(parts)

    def stack(arrays: Sequence[Any]) -> Any:
        # (1|T) × (1|S) per parameter set → one (1|T) × (P·S) array
        rows = max(a.shape[0] for a in arrays)
        if all(a.shape == (1, 1) for a in arrays) and all(np.array_equal(a, arrays[0], equal_nan=True) for a in arrays):
            return arrays[0]
        # symbol-major (Fortran) so that each backtest's column is contiguous for the kernel
        return np.concatenate([np.broadcast_to(a, (rows, n_sym)).T for a in arrays], axis=0).T

    flags = tuple(stack([p.flags[i] for p in parts]) for i in range(4))
    stops = np.concatenate([p.stops for p in parts], axis=0)
    col_symbol = np.tile(np.arange(n_sym, dtype=np.int64), len(parts))
    group_start = np.arange(n_cols + 1, dtype=np.int64)
    size = stack([p.size for p in parts])
    limit_price = stack([p.limit_price for p in parts])
    stop_price = stack([p.stop_price for p in parts])
    if keep_equity:
        records = run_kernel(
            KernelInputs(
                prices=first.prices, col_symbol=col_symbol, group_start=group_start, signal_mode=first.signal_mode,
                flags=flags, size=size, size_type=first.size_type, limit_price=limit_price, stop_price=stop_price,
                stops=stops, cash=np.full(n_cols, float(cash)), cfg=first.cfg, rules=rules,
            )
        )  # fmt: skip
        return records.metrics, records.equity
    metrics = np.zeros((n_cols, _width(rules)))
    kernel: Any = K.simulate_metrics  # a numba dispatcher: typed by its signature, not by mypy
    kernel(
        *first.prices, col_symbol, group_start, first.signal_mode, *flags, size, first.size_type, limit_price,
        stop_price, stops, np.full(n_cols, float(cash)), first.cfg, *rules.args(), metrics,
    )  # fmt: skip
    return metrics, None


def _width(rules: RuleArrays) -> int:
    # the metrics row: the engine's metrics, and the rules' counts when there are rules
    return len(K.METRICS) + (len(K.RULE_METRICS) if rules.n_rules else 0)


def _chunks(n_symbols: int, n_sets: int, n_bars: int, chunk_symbols: int | None) -> list[tuple[int, int]]:
    size = chunk_symbols or max(1, _CELLS_PER_CHUNK // max(1, n_sets * n_bars))
    size = min(size, n_symbols)
    return [(a, min(a + size, n_symbols)) for a in range(0, n_symbols, size)]


def _progress(total: int, enabled: bool, label: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, desc=label, unit="backtest", unit_scale=True)


def sweep(
    panel: Panel,
    strategy: str | Strategy,
    grid: Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Any]],
    *,
    cash: float = 100_000.0,
    fill: FillModel | None = None,
    objective: str = "sharpe_ratio",
    maximize: bool = True,
    backend: Backend = "local",
    address: str | None = None,
    chunk_symbols: int | None = None,
    progress: bool = False,
    keep_equity: bool = False,
    max_backtests: int | None = MAX_BACKTESTS,
    max_memory_bytes: int | None = None,
    periods_per_year: float | None = None,
    rules: RuleSet | None = None,
    portfolio: str = "backtest",
) -> SweepResult:
    """Backtest every parameter set on every symbol independently; keep one metrics row each.

    Parameters
    ----------
    panel
        Bars of every symbol to test.
    strategy
        A built-in's name or a strategy function (picklable for ``ray``).
    grid
        ``{name: values}`` (every combination) or an explicit list of parameter dicts.
    objective, maximize
        The metric :meth:`SweepResult.best` ranks by (any of the engine's metrics).
    backend
        ``local`` (in process, parallel over the machine's cores) or ``ray``: a local
        Ray started on demand, or the cluster at ``address``.
    chunk_symbols
        Symbols per kernel call (default: sized to keep a chunk's signals near 40M cells).
    progress
        Show a progress bar (stderr).
    keep_equity
        Also keep every backtest's equity curve (``SweepResult.equity``, one column per
        row of the frame): memory grows with bars × backtests.
    max_backtests, max_memory_bytes
        Refuse, before any work, a sweep of more backtests (parameter sets × symbols)
        or a larger memory estimate (default: half the machine's memory); None: no bound.
    periods_per_year
        Bars a year that annualise the metrics (default: the panel's frequency's, as in
        :func:`~bifrost.strategy.simulate`).
    rules, portfolio
        Compliance rules every backtest obeys, as ``portfolio`` (see
        :func:`~bifrost.strategy.backtest`): an order a rule blocks is rejected, and the
        frame gains ``n_blocked`` and ``n_warned`` (orders blocked, and let through with a
        warning) per backtest.

    Raises
    ------
    InvalidInputError
        On an unknown strategy, parameter or objective, an empty grid, a sweep beyond
        ``max_backtests`` or ``max_memory_bytes`` (see :func:`check_sweep_size`), a
        ``periods_per_year`` that is not a number from 1 to 1e8, or ``rules`` that are not
        a `bifrost.compliance.RuleSet`.
    """
    name, fn = resolve_strategy(strategy)
    if isinstance(grid, Mapping):
        n_sets, n_params = grid_size(grid), len(grid)
    else:
        n_sets, n_params = len(grid), len(grid[0]) if len(grid) else 0
    if n_sets == 0:
        raise InvalidInputError("the grid is empty")
    check_sweep_size(
        n_sets, len(panel.symbols), len(panel.ts), n_params=n_params, keep_equity=keep_equity,
        max_backtests=max_backtests, max_memory_bytes=max_memory_bytes,
    )  # fmt: skip
    sets = grid_points(grid) if isinstance(grid, Mapping) else [dict(p) for p in grid]
    for p in sets:
        check_params(name, fn, p)
    sets, skipped = _within_constraints(name, fn, sets)
    if objective not in K.METRICS:
        raise InvalidInputError(f"objective must be one of the engine's metrics {K.METRICS}, got {objective!r}")
    if backend not in ("local", "ray"):
        raise InvalidInputError(f"backend must be 'local' or 'ray', got {backend!r}")
    if address is not None and backend != "ray":
        raise InvalidInputError(f"address is the Ray cluster's; it needs backend='ray' (got address={address!r})")
    model = fill if fill is not None else FillModel()
    per_year = annual_bars(panel, check_periods_per_year(periods_per_year))
    compiled = None if rules is None else compile_for(panel, rules, portfolio)
    arrays = NO_RULES if compiled is None else rule_arrays(compiled)
    warn_raw_splits(panel)
    chunks = _chunks(len(panel.symbols), len(sets), len(panel.ts), chunk_symbols)
    if backend == "ray":
        chunks, outputs = _run_ray(
            panel, fn, sets, cash, model, per_year, chunk_symbols, address, progress, keep_equity, arrays
        )
    else:
        outputs = []
        with _progress(len(sets) * len(panel.symbols), progress, name) as bar:
            for a, b in chunks:
                fields = {f: v[:, a:b] for f, v in panel.fields.items()}
                outputs.append(
                    _chunk_metrics(
                        fields, panel.ts, panel.symbols[a:b], panel.frequency, fn, sets, cash, model, per_year,
                        keep_equity, arrays.subset(a, b),
                    )
                )  # fmt: skip
                bar.update(len(sets) * (b - a))
    blocks = [m for m, _ in outputs]
    equity = None
    if keep_equity:
        curves = [
            e.reshape(len(panel.ts), len(sets), b - a)
            for (a, b), (_, e) in zip(chunks, outputs, strict=True)
            if e is not None
        ]
        equity = pd.DataFrame(np.concatenate(curves, axis=2).reshape(len(panel.ts), -1), index=panel.ts)
    frame = _frame(blocks, chunks, panel.symbols, sets)
    if compiled is not None:
        for col in K.RULE_METRICS:  # rules given, none the kernel applies: nothing blocked
            if col not in frame:
                frame[col] = 0
    return SweepResult(
        strategy=name, frame=frame, params=tuple(sets[0]), objective=objective,
        maximize=maximize, equity=equity, skipped=skipped,
        constraints=tuple(str(c) for c in declaration(fn).constraints), costs=costs_label(model),
        rules=None if compiled is None else tuple(compiled.notes()),
    )  # fmt: skip


def _within_constraints(name: str, fn: Strategy, sets: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    # the sets that meet the strategy's declared constraints, and how many did not
    rules = declaration(fn).constraints
    if not rules:
        return sets, 0
    kept = [p for p in sets if not violated_constraints(fn, p)]
    if not kept:
        raise InvalidInputError(
            f"every one of the {len(sets):,} parameter sets violates {name}'s constraint "
            f"{' and '.join(map(str, rules))} (the first is {sets[0]}); change the grid"
        )
    return kept, len(sets) - len(kept)


def _frame(
    blocks: Sequence[FloatArray],
    chunks: Sequence[tuple[int, int]],
    symbols: Sequence[str],
    sets: Sequence[Mapping[str, Any]],
) -> pd.DataFrame:
    # rows ordered (parameter set, symbol) whatever the chunking
    n_sets = len(sets)
    width = blocks[0].shape[1]
    names = list(K.METRICS) + (list(K.RULE_METRICS) if width > len(K.METRICS) else [])
    parts = []
    for (a, b), block in zip(chunks, blocks, strict=True):
        parts.append(block.reshape(n_sets, b - a, width))
    metrics = np.concatenate(parts, axis=1).reshape(n_sets * len(symbols), width)
    frame = pd.DataFrame(metrics, columns=names)
    for col in ("n_trades", "n_fills", "n_rejected", *names[len(K.METRICS) :]):
        frame[col] = frame[col].astype(np.int64)
    params = pd.DataFrame([p for p in sets for _ in symbols]).reset_index(drop=True)
    frame.insert(0, "symbol", np.tile(np.array(symbols, dtype=object), n_sets))
    return pd.concat([params, frame], axis=1)


def _ray_chunk(
    fields: Mapping[str, FloatArray],
    ts: pd.DatetimeIndex,
    symbols: tuple[str, ...],
    frequency: Frequency,
    a: int,
    b: int,
    strategy: Strategy,
    sets: Sequence[Mapping[str, Any]],
    cash: float,
    fill: FillModel,
    per_year: float,
    keep_equity: bool,
    rules: RuleArrays,
) -> tuple[FloatArray, FloatArray | None]:
    import numba

    numba.set_num_threads(1)  # one core per task: Ray schedules the cores
    part = {f: v[:, a:b] for f, v in fields.items()}
    return _chunk_metrics(
        part, ts, symbols[a:b], frequency, strategy, sets, cash, fill, per_year, keep_equity, rules.subset(a, b)
    )


def _run_ray(
    panel: Panel,
    fn: Strategy,
    sets: Sequence[Mapping[str, Any]],
    cash: float,
    fill: FillModel,
    per_year: float,
    chunk_symbols: int | None,
    address: str | None,
    progress: bool,
    keep_equity: bool,
    rules: RuleArrays = NO_RULES,
) -> tuple[list[tuple[int, int]], list[tuple[FloatArray, FloatArray | None]]]:
    import ray

    if ray.is_initialized():
        connected = ray.get_runtime_context().gcs_address
        if address not in (None, "auto", "local", connected):
            # never run on another cluster than the one asked for
            raise InvalidInputError(
                f"Ray is already connected to {connected}, not to address={address!r}; "
                "call ray.shutdown() first or leave address unset"
            )
    else:
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
        except (ValueError, ConnectionError) as exc:  # a malformed or unreachable address
            raise InvalidInputError(f"cannot use the Ray cluster at {address!r}: {exc}") from exc
    n_sym = len(panel.symbols)
    if chunk_symbols is None:
        # sixteen small tasks per CPU: no worker idles at the end waiting for a straggler, and
        # a task's arrays stay small (measured: 16 symbols × 100 sets × 5000 bars per task
        # came within 10% of the in-process sweep, 63 symbols ran 30% slower)
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))  # type: ignore[no-untyped-call]
        largest = _chunks(n_sym, len(sets), len(panel.ts), None)[0][1]
        chunk_symbols = min(largest, max(1, math.ceil(n_sym / (16 * cpus))))
    chunks = _chunks(n_sym, len(sets), len(panel.ts), chunk_symbols)
    task: Any = _ray_chunk  # Ray's stubs type remote functions of at most ten arguments
    remote = ray.remote(num_cpus=1)(task)
    # the panel goes into the object store once; every task reads it zero-copy
    fields_ref: Any = ray.put({f: np.asarray(v) for f, v in panel.fields.items()})
    head = (fields_ref, panel.ts, panel.symbols, panel.frequency)
    tail = (fn, list(sets), cash, fill, per_year, keep_equity, rules)
    pending = {remote.remote(*head, a, b, *tail): i for i, (a, b) in enumerate(chunks)}
    out: list[Any] = [None] * len(chunks)
    try:
        with _progress(len(sets) * len(panel.symbols), progress, "ray") as bar:
            waiting = list(pending)
            while waiting:
                done, waiting = ray.wait(waiting, num_returns=1)
                i = pending[done[0]]
                out[i] = ray.get(done[0])
                a, b = chunks[i]
                bar.update(len(sets) * (b - a))
    except KeyboardInterrupt:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    return list(chunks), out


def optimize(
    panel: Panel,
    strategy: str | Strategy,
    space: Mapping[str, Sequence[Any]],
    *,
    method: SearchMethod = "grid",
    n_iter: int | None = None,
    seed: int = 0,
    objective: str = "sharpe_ratio",
    maximize: bool = True,
    cash: float = 100_000.0,
    fill: FillModel | None = None,
    backend: Backend = "local",
    address: str | None = None,
    progress: bool = False,
    max_backtests: int | None = MAX_BACKTESTS,
    max_memory_bytes: int | None = None,
    periods_per_year: float | None = None,
    rules: RuleSet | None = None,
    portfolio: str = "backtest",
) -> SweepResult:
    """Search ``space`` for the parameters with the best ``objective``: every point, or ``n_iter`` random ones.

    Random search draws distinct points of the grid with a seeded generator, so a run
    is reproducible; :meth:`SweepResult.best` gives the winner. The grid is never
    listed: only the points drawn are made, so a huge grid can be searched at random.
    ``max_backtests`` and ``max_memory_bytes`` bound the backtests run, and
    ``periods_per_year`` annualises the metrics, and ``rules`` (as ``portfolio``) are the
    compliance rules every backtest obeys, as in :func:`sweep`.
    """
    points: Mapping[str, Sequence[Any]] | list[dict[str, Any]] = space
    if method == "random":
        if n_iter is None or isinstance(n_iter, bool) or not isinstance(n_iter, int) or n_iter < 1:
            raise InvalidInputError(f"random search needs n_iter >= 1, got {n_iter!r}")
        total = grid_size(space)
        if total >= 2**63:
            raise InvalidInputError(f"the grid has {total:,} points, more than random search can index (2**63)")
        check_sweep_size(
            min(n_iter, total), len(panel.symbols), len(panel.ts), n_params=len(space),
            max_backtests=max_backtests, max_memory_bytes=max_memory_bytes,
        )  # fmt: skip
        rng = np.random.default_rng(seed)
        picks = rng.choice(total, size=min(n_iter, total), replace=False)
        points = [_grid_point(space, int(i)) for i in sorted(picks)]
    elif method != "grid":
        raise InvalidInputError(f"method must be 'grid' or 'random', got {method!r}")
    elif n_iter is not None:
        raise InvalidInputError(f"n_iter applies to method='random'; a grid search runs every point (got {n_iter!r})")
    return sweep(
        panel, strategy, points, cash=cash, fill=fill, objective=objective, maximize=maximize, backend=backend,
        address=address, progress=progress, max_backtests=max_backtests, max_memory_bytes=max_memory_bytes,
        periods_per_year=periods_per_year, rules=rules, portfolio=portfolio,
    )  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class WalkForwardResult:
    """Folds (in-sample window, chosen parameters, out-of-sample metrics) and the stitched curve.

    ``folds`` has a row per fold: its windows, the parameters chosen, ``warmup_bars`` (the
    bars before its out-of-sample window its indicators saw) and ``warmup_needed`` (what its
    parameters need: more than the panel holds before the first fold, `notes` says so), ``test_bars`` and
    ``partial`` (the last fold, shorter than ``test_bars``, that takes the bars left
    over), the in-sample objective and ``oos_return``. ``skipped`` counts the parameter
    sets each in-sample sweep left out for violating the strategy's constraints.
    """

    folds: pd.DataFrame
    equity: pd.Series  # out-of-sample equity, fold after fold (each starts where the last ended)
    objective: str
    initial_cash: float
    strategy: str = "strategy"
    skipped: int = 0
    constraints: tuple[str, ...] = ()
    costs: str = NO_COSTS
    warmup: str = "declared"  # "declared" (each fold: what its parameters need) or "N bars" as given

    @property
    def total_return(self) -> float:
        """The out-of-sample return of the stitched curve."""
        return float(self.equity.iloc[-1] / self.initial_cash - 1.0)

    def notes(self) -> list[str]:
        """Return what a reader of the folds must know: warm-up (and where it fell short), costs, the sets skipped."""
        out = [f"warm-up: {self.warmup}", f"costs: {self.costs}"]
        folds = self.folds
        if "warmup_needed" in folds:
            short = folds[folds["warmup_bars"] < folds["warmup_needed"]]
            # found by QA: a fold with less history before it than its parameters need was warmed silently
            out += [
                f"fold {r.fold}: warmed up on {r.warmup_bars} of the {r.warmup_needed} bars its parameters need "
                "(the panel has no more before it): its first signals come from cold indicators"
                for r in short.itertuples()
            ]
        blind = folds.loc[folds[f"in_sample_{self.objective}"].isna(), "fold"].tolist() if len(folds) else []
        if blind:
            out.append(
                f"fold{'s' if len(blind) > 1 else ''} {', '.join(map(str, blind))}: no parameter set had a finite "
                f"in-sample {self.objective}, so the grid's first set was traded"
            )
        if self.skipped:
            out.append(
                f"skipped {self.skipped:,} parameter {'sets' if self.skipped != 1 else 'set'} in each fold that "
                f"{'violate' if self.skipped != 1 else 'violates'} "
                f"{' and '.join(self.constraints)}"
            )
        return out

    @property
    def returns(self) -> pd.Series:
        """Out-of-sample returns, one a bar, stitched (the first against the initial cash)."""
        prev = self.equity.shift(1)
        prev.iloc[0] = self.initial_cash
        return (self.equity / prev - 1.0).rename("returns")

    def _repr_html_(self) -> str:
        import html

        notes = "; ".join(html.escape(n) for n in self.notes())
        return (
            f"<b>Walk-forward</b> {html.escape(self.strategy)}: {len(self.folds)} folds by {self.objective}, "
            f"out-of-sample return {self.total_return:.2%} ({notes})<br>" + self.folds.to_html()
        )


def _window(panel: Panel, a: int, b: int) -> Panel:
    return Panel(
        ts=panel.ts[a:b], symbols=panel.symbols, fields={f: v[a:b] for f, v in panel.fields.items()},
        adjustment=panel.adjustment, frequency=panel.frequency,
    )  # fmt: skip


def _mute_before(request: Signals | Orders, rows: int, shape: tuple[int, int]) -> Signals | Orders:
    # no order may come from the warm-up bars: they are there for the indicators only
    if rows == 0:
        return request
    if isinstance(request, Signals):
        muted: dict[str, Any] = {}
        for name in ("entries", "exits", "short_entries", "short_exits"):
            value = getattr(request, name)
            if value is not None:
                flags = np.array(np.broadcast_to(as_grid(value, shape), shape), dtype=bool)
                flags[:rows] = False
                muted[name] = flags
        return replace(request, **muted)
    size = np.array(np.broadcast_to(as_grid(request.size, shape), shape), dtype=np.float64)
    size[:rows] = np.nan
    return replace(request, size=size)


def walk_forward(
    panel: Panel,
    strategy: str | Strategy,
    space: Mapping[str, Sequence[Any]],
    *,
    train_bars: int,
    test_bars: int,
    anchored: bool = False,
    warmup_bars: int | None = None,
    objective: str = "sharpe_ratio",
    maximize: bool = True,
    cash: float = 100_000.0,
    fill: FillModel | None = None,
    backend: Backend = "local",
    periods_per_year: float | None = None,
    rules: RuleSet | None = None,
    portfolio: str = "backtest",
) -> WalkForwardResult:
    """Optimise on each in-sample window, then trade the winner on the next out-of-sample one.

    Windows roll forward by ``test_bars``; ``anchored`` keeps every in-sample window
    starting at the first bar. The bars left after the last whole out-of-sample window
    make one more, shorter fold (``partial`` in `WalkForwardResult.folds`), so the
    out-of-sample curve covers every bar after the first in-sample window. The
    out-of-sample backtest of each fold sees ``warmup_bars`` bars before its window for
    its indicators (they are not traded; fewer where the panel has fewer); by default
    (None) as many as the strategy declares its chosen parameters need
    (`bifrost.strategy.required_warmup`: ``max(fast, slow)`` for ``sma_cross``, 0 for a
    strategy that declares none). The folds' equity curves are chained into one
    out-of-sample curve; the panel's symbols are traded together as one portfolio.
    ``periods_per_year`` annualises the in-sample metrics the folds are chosen by
    (default: the panel's frequency's, as in :func:`sweep`). ``rules`` (as ``portfolio``) are
    compliance rules the in-sample sweeps and the out-of-sample backtests obey (see
    :func:`~bifrost.strategy.backtest`).

    Raises
    ------
    InvalidInputError
        If ``train_bars`` or ``test_bars`` is not a whole number of at least 2 bars or
        together they exceed the panel, ``warmup_bars`` is not None or a whole number
        from 0 to ``train_bars``, or any in-sample sweep refuses its input (see
        :func:`sweep`; a grid whose every set violates the strategy's constraints).
    """
    for label, value in (("train_bars", train_bars), ("test_bars", test_bars)):
        as_positive_int(value, label, minimum=2)
    if warmup_bars is not None:
        as_positive_int(warmup_bars, "warmup_bars", minimum=0, maximum=train_bars, kind="a whole number of bars")
    per_year = check_periods_per_year(periods_per_year)
    n = len(panel.ts)
    if train_bars + test_bars > n:
        raise InvalidInputError(f"train_bars + test_bars ({train_bars + test_bars}) exceed the panel's {n} bars")
    name, fn = resolve_strategy(strategy)
    warn_raw_splits(panel)  # its windows carry no splits: one warning, here
    rows: list[dict[str, Any]] = []
    curve: list[pd.Series] = []
    carried = float(cash)
    start = 0
    skipped = 0
    while start + train_bars < n:
        is_a = 0 if anchored else start
        is_b = start + train_bars
        oos_b = min(is_b + test_bars, n)
        result = sweep(_window(panel, is_a, is_b), fn, space, cash=cash, fill=fill, objective=objective,
                       maximize=maximize, backend=backend, periods_per_year=per_year, rules=rules,
                       portfolio=portfolio)  # fmt: skip
        skipped = result.skipped
        best = result.best()
        need = required_warmup(fn, best) if warmup_bars is None else warmup_bars
        warm = max(0, is_b - need)
        window = _window(panel, warm, oos_b)
        request = _mute_before(fn(window, **best), is_b - warm, window.shape)
        oos = simulate(window, request, cash=carried, fill=fill, strategy=result.strategy, params=best,
                       periods_per_year=per_year, rules=rules, portfolio=portfolio)  # fmt: skip
        equity = oos.equity.iloc[is_b - warm :]  # the warm-up bars only fed the indicators
        curve.append(equity)
        rows.append(
            {
                "fold": len(rows), "train_start": panel.ts[is_a], "train_end": panel.ts[is_b - 1],
                "test_start": panel.ts[is_b], "test_end": panel.ts[oos_b - 1], **best,
                "warmup_bars": is_b - warm, "warmup_needed": need, "test_bars": oos_b - is_b,
                "partial": oos_b - is_b < test_bars,
                f"in_sample_{objective}": float(result.summary()[objective].iloc[0]),
                "oos_return": float(equity.iloc[-1] / carried - 1.0),
            }
        )  # fmt: skip
        carried = float(equity.iloc[-1])
        start += test_bars
    return WalkForwardResult(
        folds=pd.DataFrame(rows),
        equity=pd.concat(curve).rename("equity"),
        objective=objective,
        initial_cash=float(cash),
        strategy=name,
        skipped=skipped,
        constraints=tuple(str(c) for c in declaration(fn).constraints),
        costs=costs_label(fill),
        warmup="declared by the strategy for each fold's parameters" if warmup_bars is None else f"{warmup_bars} bars",
    )


class FloatRange(Sequence[float]):
    """``start, start + step, ...`` up to ``stop`` included: a lazy sequence of ``n`` floats."""

    __slots__ = ("_n", "_start", "_step")

    def __init__(self, start: float, step: float, n: int) -> None:
        self._start, self._step, self._n = start, step, n

    def __len__(self) -> int:
        return self._n

    @property
    def n_values(self) -> int:
        """The number of values, as a Python int (``len()`` overflows past ``sys.maxsize``)."""
        return self._n

    @overload
    def __getitem__(self, index: int) -> float: ...
    @overload
    def __getitem__(self, index: slice) -> list[float]: ...
    def __getitem__(self, index: int | slice) -> float | list[float]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._n))]
        if index < 0:
            index += self._n
        if not 0 <= index < self._n:
            raise IndexError(index)
        return self._start + index * self._step

    def __repr__(self) -> str:
        last = self._start + (self._n - 1) * self._step
        return f"FloatRange({self._start:g}..{last:g} step {self._step:g}, {self._n:,} values)"


def grid_values(spec: str) -> Sequence[float] | range:
    """Return the values of ``start:stop:step`` (stop included) or ``a,b,c`` without listing a range.

    An integer range is a `range`, any other a lazy :class:`FloatRange`: ``1:1000000000:1``
    costs nothing until it is swept, and the sweep counts it first.

    Raises
    ------
    InvalidInputError
        If a value is not a finite number, or a range does not have ``step > 0`` and
        ``stop >= start``.
    """

    def number(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise InvalidInputError(f"grid values must be numbers, got {_short(text)} in {_short(spec)}") from None
        if not math.isfinite(value):
            raise InvalidInputError(f"grid values must be finite numbers, got {_short(text)} in {_short(spec)}")
        return value

    if ":" in spec:
        parts = spec.split(":")
        if len(parts) != 3:
            raise InvalidInputError(f"a range is start:stop:step, got {_short(spec)}")
        a, b, step = (number(p) for p in parts)
        if step <= 0 or b < a:
            raise InvalidInputError(f"a range needs step > 0 and stop >= start, got {_short(spec)}")
        exact = [_whole(p) for p in parts]
        if all(v is not None for v in exact):  # counted exactly, not through floats
            ia, ib, istep = (int(v) for v in exact if v is not None)
            return range(ia, ib + 1, istep)
        count = math.floor((b - a) / step + 1e-9) + 1
        if a.is_integer() and step.is_integer():
            return range(int(a), int(a) + count * int(step), int(step))
        return FloatRange(a, step, count)
    return [number(part) for part in spec.split(",")]


def _whole(text: str) -> int | None:
    try:
        return int(text.strip())
    except ValueError:
        return None


def iter_grid(spec: str) -> Iterator[float]:
    """Yield the values of ``start:stop:step`` (stop included) or ``a,b,c`` (see :func:`grid_values`)."""
    yield from grid_values(spec)
