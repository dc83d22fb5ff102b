"""What every component shares: the error area, tables of aligned numbers, charts, the page style.

A component holds a store and one root widget (``.widget``), and redraws itself in
`Component.refresh`; what it reads from the store is the library's, never recomputed here.
A refresh that fails shows one line in the component's error area (``.bf-error``) and
leaves the rest of the page alone: a dashboard never shows a traceback. Tables are HTML
widgets whose number cells carry the full-precision value (``data-value``), so a browser
test compares them with the library's numbers exactly. Charts are plotly figures shown in
an ``Output`` widget as plotly's own mimetype (drawn by the ``jupyterlab-plotly`` extension
that Voila and JupyterLab load from the local server: no CDN).
"""

from __future__ import annotations

import html
import json
import logging
import math
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import ipywidgets as W
import pandas as pd

from bifrost.data import Store
from bifrost.errors import BifrostError

__all__ = [
    "PAGE_CSS",
    "Column",
    "Component",
    "ErrorArea",
    "Marker",
    "PortfolioComponent",
    "base_layout",
    "card",
    "describe_error",
    "format_value",
    "html_table",
    "number_or_none",
    "records",
    "show_figure",
    "show_html",
]

log = logging.getLogger("bifrost.ui")

Marker = Literal["bars", "portfolios", "alerts", "runs", "orders"]
Kind = Literal["text", "money", "pct", "num", "int", "qty", "date", "time", "html"]

# the look: a dense, quiet page of aligned numbers that a trader keeps open on a second monitor
PAGE_CSS = """
<style>
.bf-page{font-family:-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;font-size:13px;color:#1b1f24;
  background:#f6f7f9;padding:6px 8px;box-sizing:border-box;width:100%}
.bf-title{font-size:17px;font-weight:600;color:#0b3d62}
.bf-status{color:#6a737d;font-size:11px}
.bf-card{background:#fff;border:1px solid #dfe3e8;border-radius:4px;padding:6px 10px;margin:3px;box-sizing:border-box}
.bf-card-title{font-size:11px;font-weight:700;letter-spacing:.04em;text-transform:uppercase;color:#586069}
.bf-table{border-collapse:collapse;font-size:12px;margin:2px 0}
.bf-table th{background:#eef1f4;color:#444d56;font-weight:600;text-align:right;padding:3px 6px;
  border-bottom:1px solid #d1d5da;white-space:nowrap}
.bf-table td{padding:2px 6px;border-bottom:1px solid #eef0f2;text-align:right;white-space:nowrap}
.bf-table th.bf-text,.bf-table td.bf-text{text-align:left}
.bf-table td.bf-wrap{white-space:normal;min-width:240px;max-width:520px}
.bf-table tr:hover td{background:#f1f8ff}
.bf-num{font-variant-numeric:tabular-nums;font-family:ui-monospace,"SF Mono",Menlo,Consolas,monospace}
.bf-neg{color:#cb2431}.bf-pos{color:#22863a}
tr.bf-breach td{background:#ffeef0}tr.bf-warning td{background:#fff8e1}
.bf-sev{font-weight:700;text-transform:uppercase;font-size:11px}
tr.bf-breach .bf-sev,.bf-status-failed,.bf-status-timed_out,.bf-status-kernel_died,.bf-status-abandoned{color:#cb2431}
tr.bf-warning .bf-sev{color:#b08800}tr.bf-ok .bf-sev,.bf-status-succeeded{color:#22863a}
tr.bf-na .bf-sev,tr.bf-closed td,.bf-status-canceled{color:#8a939c}
.bf-status-running,.bf-status-queued{color:#0366d6}
.bf-bar{display:inline-block;position:relative;width:110px;height:9px;background:#e9ecef;border-radius:2px;
  vertical-align:middle}
.bf-bar>span{position:absolute;left:0;top:0;bottom:0;border-radius:2px;background:#2ea44f}
tr.bf-warning .bf-bar>span{background:#dbab09}tr.bf-breach .bf-bar>span{background:#cb2431}
.bf-error-shown{color:#86181d;background:#ffeef0;border:1px solid #fdaeb7;border-radius:3px;padding:4px 8px}
.bf-note{color:#586069;font-size:11px}
.bf-page .widget-label{font-size:12px}
.bf-page .widget-html-content{line-height:1.35}
.bf-page .widget-html{max-width:100%;overflow-x:auto}
.bf-page a{color:#0366d6;text-decoration:underline}
.bf-hint{color:#8a939c;font-size:12px;padding:24px 8px}
.bf-trunc{display:inline-block;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;vertical-align:bottom}
.bf-stale{opacity:.4;filter:grayscale(70%)}
.bf-stale-text{color:#735c0f;background:#fffbdd;border:1px solid #f1e05a;border-radius:3px;padding:4px 8px;
  margin:3px;font-size:12px}
</style>
"""


class ErrorArea:
    """One line in the page saying what went wrong; empty (and hidden) when all is well."""

    def __init__(self) -> None:
        self.widget = W.HTML(value="", layout=W.Layout(display="none"))
        self.widget.add_class("bf-error")

    @property
    def message(self) -> str:
        """The message shown, or '' when none."""
        return html.unescape(_strip_tags(str(self.widget.value)))

    def show(self, message: str) -> None:
        """Show ``message`` (one line of text, escaped)."""
        self.widget.value = f"<span>{html.escape(message)}</span>"
        self.widget.layout.display = None
        self.widget.add_class("bf-error-shown")

    def clear(self) -> None:
        """Hide the area."""
        if self.widget.value:
            self.widget.value = ""
        self.widget.layout.display = "none"
        self.widget.remove_class("bf-error-shown")


def _strip_tags(text: str) -> str:
    out, inside = [], False
    for ch in text:
        if ch == "<":
            inside = True
        elif ch == ">":
            inside = False
        elif not inside:
            out.append(ch)
    return "".join(out)


def describe_error(exc: BaseException) -> str:
    """Return the one line a page shows for ``exc``: a BifrostError's message, else its type and message."""
    if isinstance(exc, BifrostError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


class Component(ABC):
    """A part of a dashboard: a store, a root widget (``widget``), an error area and `refresh`.

    ``markers`` names the store's change markers whose change makes a `ChangeWatcher`
    call `refresh` (``bars``, ``portfolios``, ``alerts``, ``runs``, ``orders``).
    """

    markers: ClassVar[tuple[Marker, ...]] = ()
    css_class: ClassVar[str] = ""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.error = ErrorArea()
        self.lock = threading.RLock()  # a watcher's thread and a button's callback never draw at once
        self.refreshed = 0  # how many refreshes completed (tests and the status line read it)
        self.widget: Any = W.VBox([])

    def refresh(self) -> None:
        """Read the store again and redraw; a failure shows its message in the error area."""
        with self.lock:
            try:
                self._draw()
            except Exception as exc:  # the page's boundary: one line, never a traceback
                if not isinstance(exc, BifrostError):
                    log.exception("%s: refresh failed", type(self).__name__)
                self.error.show(describe_error(exc))
            else:
                self.error.clear()
            self.refreshed += 1

    def live(self) -> bool:
        """Whether the component shows something that moves on its own (a running job): redrawn every poll."""
        return False

    @abstractmethod
    def _draw(self) -> None:
        """Draw the component from the store (called by `refresh` under the lock)."""

    def _root(self, *children: Any, title: str | None = None) -> Any:
        box = card(title, [*children, self.error.widget])
        if self.css_class:
            box.add_class(self.css_class)
        return box


class PortfolioComponent(Component):
    """A component showing one stored portfolio (`set_portfolio` picks it); redrawn when bars or portfolios change."""

    markers: ClassVar[tuple[Marker, ...]] = ("bars", "portfolios")

    def __init__(self, store: Store, portfolio: str | None = None) -> None:
        super().__init__(store)
        self.portfolio = portfolio

    def set_portfolio(self, name: str | None) -> None:
        """Show portfolio ``name`` (None: nothing) and redraw."""
        self.portfolio = name
        self.refresh()


def card(title: str | None, children: Sequence[Any], *, width: str | None = None) -> Any:
    """Return a white box with a small upper-case title over ``children``."""
    items = list(children)
    if title:
        head = W.HTML(value=f"<div class='bf-card-title'>{html.escape(title)}</div>")
        items.insert(0, head)
    box = W.VBox(items, layout=W.Layout(width=width) if width else W.Layout())
    box.add_class("bf-card")
    return box


@dataclass(frozen=True, slots=True, kw_only=True)
class Column:
    """A table column: the record's field, its header and how its values are written."""

    field: str
    label: str | None = None  # None: the field's name; "" leaves the header empty
    kind: Kind = "num"
    digits: int = 2
    signed: bool = False  # colour negatives red and positives green (P&L)
    wrap: bool = False
    truncate: int = 0  # a text cell's widest (px): longer text ends in '…', whole in its tooltip (0: never cut)


def format_value(value: object, kind: Kind, digits: int = 2) -> str:
    """Write one value for a table: money with separators, fractions in percent, '–' for missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return "–"
    if kind in ("text", "html"):
        return str(value)
    if kind in ("date", "time"):
        ts = pd.Timestamp(value)  # type: ignore[arg-type]
        return ts.strftime("%Y-%m-%d") if kind == "date" else ts.strftime("%Y-%m-%d %H:%M")
    number = float(value)  # type: ignore[arg-type]
    if not math.isfinite(number):
        return "–"
    if kind == "money":
        return f"{number:,.{digits}f}"
    if kind == "pct":
        return f"{number:.{digits}%}"
    if kind == "int":
        return f"{round(number):,}"
    if kind == "qty":
        return f"{number:,.0f}" if number == round(number) else f"{number:,.4f}"
    return f"{number:,.{digits}f}"


def html_table(
    records: Iterable[Mapping[str, object]],
    columns: Sequence[Column],
    *,
    key: str | Callable[[Mapping[str, object]], str] | None = None,
    row_class: Callable[[Mapping[str, object]], str] | None = None,
    row_title: Callable[[Mapping[str, object]], str] | None = None,
    empty: str = "nothing to show",
) -> str:
    """Return an HTML table (``table.bf-table``): a row per record, a cell per column.

    Number cells are ``td.bf-num`` with the full-precision value in ``data-value``; each
    cell names its column (``data-col``) and each row its key (``data-key``); ``row_title`` gives
    a row its tooltip (``title``).
    """
    head = "".join(
        f"<th class='{'bf-text' if c.kind in ('text', 'html', 'date', 'time') else ''}'>"
        f"{html.escape(c.field if c.label is None else c.label)}</th>"
        for c in columns
    )
    body = []
    for rec in records:
        cells = []
        for c in columns:
            value = rec.get(c.field)
            text = format_value(value, c.kind, c.digits)
            shown = text if c.kind == "html" else html.escape(text)
            classes = []
            attrs = f" data-col='{html.escape(c.field, quote=True)}'"
            if c.kind in ("text", "html", "date", "time"):
                classes.append("bf-text")
                if c.wrap:
                    classes.append("bf-wrap")
                if c.truncate:
                    attrs += f" title='{html.escape(text, quote=True)}'"
                    shown = f"<span class='bf-trunc' style='max-width:{c.truncate}px'>{shown}</span>"
            else:
                classes.append("bf-num")
                number = number_or_none(value)
                if number is not None:
                    attrs += f" data-value='{number!r}'"
                    if c.signed and number:
                        classes.append("bf-neg" if number < 0 else "bf-pos")
            cells.append(f"<td class='{' '.join(classes)}'{attrs}>{shown}</td>")
        row_key = key(rec) if callable(key) else (str(rec.get(key)) if key else "")
        cls = row_class(rec) if row_class else ""
        tip = f" title='{html.escape(row_title(rec), quote=True)}'" if row_title else ""
        body.append(
            f"<tr class='{html.escape(cls, quote=True)}' data-key='{html.escape(row_key, quote=True)}'{tip}>"
            + "".join(cells)
            + "</tr>"
        )
    if not body:
        return f"<div class='bf-note'>{html.escape(empty)}</div>"
    return f"<table class='bf-table'><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def number_or_none(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def records(frame: pd.DataFrame) -> list[dict[str, object]]:
    """Return a frame's rows as dicts of plain values (NaN stays NaN; a table writes it '–')."""
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict(orient="records")]


def show_figure(output: Any, fig: Any) -> None:
    """Show plotly figure ``fig`` in ``output`` (an Output widget), replacing what it showed.

    Set as the widget's outputs directly (not through ``with output:``), so a watcher's
    thread draws as well as a button's callback does.
    """
    spec = json.loads(fig.to_json())  # plotly's encoder: numpy arrays and timestamps as JSON
    output.outputs = (
        {
            "output_type": "display_data",
            "data": {"application/vnd.plotly.v1+json": spec, "text/plain": f"<plotly figure: {_title(spec)}>"},
            "metadata": {},
        },
    )


def show_html(output: Any, text: str) -> None:
    """Show ``text`` as HTML in ``output`` (an Output widget), replacing what it showed."""
    output.outputs = ({"output_type": "display_data", "data": {"text/html": text, "text/plain": ""}, "metadata": {}},)


def _title(spec: Mapping[str, Any]) -> str:
    title = spec.get("layout", {}).get("title", {})
    return str(title.get("text", "")) if isinstance(title, dict) else str(title)


def base_layout(fig: Any, *, title: str, height: int = 320) -> Any:
    """Give ``fig`` the dashboards' compact look: a small title, thin margins, a legend on top."""
    fig.update_layout(
        title={"text": title, "font": {"size": 13}, "x": 0.01, "xanchor": "left"},
        height=height,
        margin={"l": 50, "r": 15, "t": 36, "b": 30},
        template="plotly_white",
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1, "xanchor": "right"},
        font={"size": 11},
    )
    return fig
