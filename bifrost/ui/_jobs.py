"""Job components: the recent runs with their status, duration and outputs; run a job now.

Everything goes through `bifrost.jobs` (`job_history`, `load_jobs`, `run_job`). A run's
executed notebook and HTML live under ``BIFROST_HOME/runs/<job>/<run id>/``: the table links
them under ``link_base`` (the dashboard server serves that folder there), and the run viewer
shows a run's HTML in the page itself (an iframe of the file's text: no route needed).
"""

from __future__ import annotations

import asyncio
import html
import importlib
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import ipywidgets as W
import pandas as pd

from bifrost.data import Store
from bifrost.errors import InvalidInputError
from bifrost.ui._base import Column, Component, ErrorArea, Marker, card, describe_error, html_table, show_html

__all__ = ["DEFAULT_LINK_BASE", "RunJobControl", "RunViewer", "RunsTable", "run_link"]

DEFAULT_LINK_BASE = "/bifrost/runs/"  # where `bifrost dashboard` serves BIFROST_HOME/runs


def _jobs() -> Any:
    # bifrost.jobs, imported when a job component is used (a page without jobs never loads papermill)
    return importlib.import_module("bifrost.jobs")


def run_link(path: Path | None, link_base: str | None = DEFAULT_LINK_BASE) -> str | None:
    """Return the URL of a run's output file under ``link_base`` (``<job>/<run id>/<file>``), or None.

    None also where there is no path or no route (``link_base=None``).
    """
    if path is None or link_base is None:
        return None
    parts = Path(path).parts
    if len(parts) < 3:
        return None
    return link_base.rstrip("/") + "/" + "/".join(parts[-3:])


class RunsTable(Component):
    """The recent runs, newest first: job, status, attempt, start, duration, error, links to the outputs."""

    markers: ClassVar[tuple[Marker, ...]] = ("runs",)
    css_class = "bf-runs-card"

    def __init__(self, store: Store, *, job: str | None = None, limit: int = 30,
                 link_base: str | None = DEFAULT_LINK_BASE) -> None:  # fmt: skip
        super().__init__(store)
        self.job = job
        self.limit = limit
        self.link_base = link_base
        self.html = W.HTML(layout=W.Layout(max_height="460px", overflow="auto"))
        self.html.add_class("bf-runs")
        self.runs: list[Any] = []
        self.widget = self._root(self.html, title="recent runs")

    def live(self) -> bool:
        """True while a listed run is running: its duration so far is redrawn every poll."""
        return any(str(r.status) == "running" for r in self.runs)

    def _draw(self) -> None:
        runs = list(_jobs().job_history(self.store, self.job, limit=self.limit))
        self.runs = runs
        job_of = {r.run_id: r.job for r in runs}
        now = pd.Timestamp.now(tz="UTC")
        rows = []
        for r in runs:
            nb, page = run_link(r.notebook, self.link_base), run_link(r.html, self.link_base)
            links = " ".join(
                f"<a class='{cls}' href='{html.escape(url, quote=True)}' target='_blank' "
                f"title='{html.escape(str(path), quote=True)}'>{label}</a>"
                for cls, url, path, label in (("bf-link-notebook", nb, r.notebook, "notebook"),
                                              ("bf-link-html", page, r.html, "html"))
                if url is not None
            )  # fmt: skip
            status = str(r.status)
            rows.append(
                {
                    "run_id": r.run_id,
                    "job": r.job,
                    "status": f"<span class='bf-status-{html.escape(status)}'>{html.escape(status)}</span>",
                    "attempt": r.attempt,
                    "started": r.started if r.started is not None else r.queued,
                    # a running run: how long it has run so far
                    "duration": r.duration_s
                    if r.duration_s is not None or r.started is None or status != "running"
                    else (now - r.started).total_seconds(),
                    "error": r.error or "",
                    "step_of": job_of.get(r.parent_run_id, r.parent_run_id or ""),
                    "result": _result_text(r.result),
                    "links": links,
                    "_status": status,
                }
            )
        self.html.value = html_table(
            rows,
            (
                Column(field="started", label="started (UTC)", kind="time"),
                Column(field="job", kind="text"),
                Column(field="status", kind="html"),
                Column(field="attempt", kind="int"),
                Column(field="duration", label="duration s", kind="num", digits=1),
                Column(field="step_of", label="step of", kind="text"),
                Column(field="links", label="outputs", kind="html"),
                Column(field="result", kind="text", wrap=True),
                Column(field="error", kind="text", wrap=True),
                Column(field="run_id", label="run id", kind="text"),
            ),
            key="run_id",
            row_class=lambda r: f"bf-run bf-run-{r['_status']}",
            empty="no runs yet: run a job above, or `bifrost jobs run NAME`",
        )


def _result_text(result: Mapping[str, object] | None, shown: int = 4) -> str:
    # a run's headline numbers (`bifrost.jobs.record_result`), the first few, numbers to 4 significant digits
    if not result:
        return ""
    parts = []
    for k, v in list(result.items())[:shown]:
        text = f"{v:.4g}" if isinstance(v, float) else str(v)
        parts.append(f"{k}={text if len(text) <= 40 else text[:37] + '...'}")
    return ", ".join(parts) + (" …" if len(result) > shown else "")


class RunJobControl(Component):
    """Pick a job, give parameters (``name=value ...``), and run it now in a background thread."""

    css_class = "bf-run-job-card"

    def __init__(self, store: Store, *, jobs: Mapping[str, Any] | None = None, on_done: Any = None) -> None:
        super().__init__(store)
        self.jobs = jobs
        self.on_done = on_done
        self.picker = W.Dropdown(options=[], description="job", layout=W.Layout(width="260px"))
        self.picker.add_class("bf-job-picker")
        self.parameters = W.Text(value="", description="params", placeholder="name=value ... (over the defaults below)",
                                 layout=W.Layout(width="380px"))  # fmt: skip
        self.parameters.add_class("bf-job-params")
        self.button = W.Button(description="Run now", button_style="primary")
        self.button.add_class("bf-run-job")
        self.message = W.HTML()
        self.message.add_class("bf-run-message")
        self.info = W.HTML()
        self.info.add_class("bf-job-info")
        self.picker.observe(lambda _: self._describe(), names="value")
        self.thread: threading.Thread | None = None
        self.last: Any = None
        self.button.on_click(lambda _: self.start())
        self.widget = self._root(
            W.HBox([self.picker, self.parameters, self.button]), self.info, self.message, title="run a job"
        )

    def _draw(self) -> None:
        if self.jobs is None:
            self.jobs = _jobs().load_jobs()
        names = sorted(self.jobs)
        if list(self.picker.options) != names:
            current = self.picker.value
            self.picker.options = names
            first = "daily" if "daily" in names else (names[0] if names else None)
            self.picker.value = current if current in names else first
        self._describe()

    def _describe(self) -> None:
        # the picked job as jobs.toml declares it: what it does, when it runs, its defaults
        if not self.jobs:
            self.info.value = (
                "<div class='bf-note'>no jobs declared: papermill_jobs/jobs.toml (or BIFROST_JOBS_DIR) has none</div>"
            )
            return
        spec = None if self.picker.value is None else self.jobs.get(self.picker.value)
        if spec is None:
            self.info.value = ""
            return
        when = f"{spec.schedule} ({spec.timezone})" if spec.schedule else "on demand"
        steps = f"; steps {' → '.join(spec.steps)}" if spec.steps else ""
        defaults = " ".join(f"{k}={v}" for k, v in spec.parameters.items()) or "none"
        self.info.value = (
            f"<div class='bf-note'>{html.escape(spec.description or spec.name)} — schedule {html.escape(when)}, "
            f"timeout {spec.timeout_s:g} s, retries {spec.retries}{html.escape(steps)}; "
            f"defaults: {html.escape(defaults)}</div>"
        )

    def _parameters(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for pair in (p for p in re.split(r"\s+", self.parameters.value.strip()) if p):
            name, sep, value = pair.partition("=")
            if not sep or not name:
                raise InvalidInputError(f"params: {pair[:40]!r} is not name=value (e.g. n_symbols=5)")
            if name in out:
                raise InvalidInputError(f"params: {name} is given twice")
            out[name] = value
        return out

    def start(self) -> threading.Thread | None:
        """Run the chosen job in a background thread (one at a time); return the thread."""
        if self.thread is not None and self.thread.is_alive():
            self.message.value = "<span class='bf-note'>a run started here is still running</span>"
            return None
        job = self.picker.value
        try:
            if job is None:
                raise InvalidInputError("no job chosen (papermill_jobs/jobs.toml declares none?)")
            parameters = self._parameters()
        except InvalidInputError as exc:
            self.error.show(str(exc))
            return None
        self.error.clear()
        self.button.disabled = True
        self.message.value = f"<span class='bf-status-running'>running {html.escape(str(job))}…</span>"
        self.thread = threading.Thread(target=self._run, args=(str(job), parameters), daemon=True,
                                       name=f"bifrost-ui-run-{job}")  # fmt: skip
        self.thread.start()
        return self.thread

    def _run(self, job: str, parameters: dict[str, str]) -> None:
        try:
            record = _jobs().run_job(self.store, job, parameters, jobs=self.jobs)
            self.last = record
            status = str(record.status)
            error = f": {html.escape(record.error)}" if record.error else ""
            self.message.value = (
                f"<span class='bf-status-{status}'>{html.escape(job)} {status}</span> "
                f"<span class='bf-note'>run {html.escape(record.run_id)}, "
                f"{(record.duration_s or 0.0):.1f} s{error}</span>"
            )
        except Exception as exc:  # refused parameters, an unknown job: one line, never a traceback
            self.last = None
            self.message.value = ""
            self.error.show(describe_error(exc))
        finally:
            _close_thread_loop()
            self.button.disabled = False
            if self.on_done is not None:
                self.on_done()


def _close_thread_loop() -> None:
    # papermill (jupyter_core's run_sync) made this thread an event loop and left it open: close
    # it, or its self-pipe socket is reported unclosed when the loop is collected
    try:
        loop = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:  # none was made here
        return
    if not loop.is_running() and not loop.is_closed():
        loop.close()
    asyncio.set_event_loop(None)


class RunViewer(Component):
    """Show a recent run's HTML export in the page: an iframe of the file at ``link_base`` (the
    dashboard server's route), or of the file's text where there is no route (``link_base=None``,
    JupyterLab)."""

    markers: ClassVar[tuple[Marker, ...]] = ("runs",)
    css_class = "bf-run-view-card"

    def __init__(self, store: Store, *, limit: int = 30, link_base: str | None = DEFAULT_LINK_BASE) -> None:
        super().__init__(store)
        self.limit = limit
        self.link_base = link_base
        self.picker = W.Dropdown(options=[], description="show run", layout=W.Layout(width="520px"))
        self.picker.add_class("bf-run-picker")
        self.output = W.Output()
        self.output.add_class("bf-run-view")
        self.view_error = ErrorArea()
        self._quiet = False
        self._paths: dict[str, Any] = {}
        self.picker.observe(lambda _: None if self._quiet else self.show(), names="value")
        self.widget = card("run output", [self.picker, self.view_error.widget, self.output, self.error.widget])
        self.widget.add_class(self.css_class)

    def _draw(self) -> None:
        runs = [r for r in _jobs().job_history(self.store, limit=self.limit) if r.html is not None]
        options = [(f"{r.job}  {r.status}  {r.run_id}", r.run_id) for r in runs]
        self._paths = {r.run_id: r.html for r in runs}
        if list(self.picker.options) != options:
            current = self.picker.value
            self._quiet = True  # the options' own change of value is not a pick
            try:
                self.picker.options = [("—", None), *options]
                newest = options[0][1] if options else None
                self.picker.value = current if current in self._paths else newest
            finally:
                self._quiet = False
            self.show()

    def show(self, run_id: str | None = None) -> None:
        """Show run ``run_id``'s HTML (default: the one picked)."""
        run_id = run_id or self.picker.value
        if run_id is None:
            self.output.outputs = ()
            return
        path = self._paths.get(run_id)
        style = "style='width:100%;height:640px;border:1px solid #dfe3e8;background:#fff'"
        url = None if self.link_base is None else run_link(path, self.link_base)
        if url is not None:
            self.view_error.clear()
            show_html(
                self.output, f"<iframe class='bf-run-frame' src='{html.escape(url, quote=True)}' {style}></iframe>"
            )
            return
        try:
            text = Path(path).read_text(encoding="utf-8") if path is not None else None
        except OSError as exc:
            self.view_error.show(f"cannot read {path}: {exc.strerror}")
            return
        if text is None:
            self.view_error.show(f"run {run_id} has no HTML export")
            return
        self.view_error.clear()
        show_html(
            self.output,
            f"<iframe class='bf-run-frame' srcdoc='{html.escape(text, quote=True)}' {style}></iframe>",
        )
