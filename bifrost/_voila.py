"""How bifrost serves its dashboards with Voila: the settings, Voila's command line, readiness.

Nothing here computes anything a dashboard shows: it only decides how Voila runs.
``bifrost dashboard`` (`bifrost.cli.dashboard`) and `bifrost.testing.running_dashboard`
call it; importing this module imports no Jupyter package (Voila is imported by `serve`).

What Voila is told, and why
---------------------------
- bound to ``127.0.0.1``, no token (a trader's own machine), sources stripped, tracebacks
  not sent to the page (a page shows a form's message, never a traceback);
- the ``bifrost`` template (``widgets/share/voila/templates/bifrost``): Voila's ``lab``
  template, spinner and "Executing cell i of n" while a page renders, with nothing asked of a
  CDN (Voila links Font Awesome from cdn.jsdelivr.net; its own bundle already holds the fonts);
- only the front-end extensions a dashboard needs (the widget manager and plotly's renderer):
  every other JupyterLab extension installed in the environment adds scripts to parse on each
  page (jupytext's fails to load in Voila and logs a console error);
- preheated kernels: ``pool_size`` kernels per notebook have already run it, imports and
  all, when a page asks for it (filled one notebook after another at start, `preheat_order`);
  a notebook named in `NOT_PREHEATED` (one that reads its request, e.g. a query string)
  renders on demand. A used kernel is replaced
  ``fill_delay_s`` later, so that the new kernel's start does not compete for the CPU with
  the page being drawn;
- culling: a tab closed normally shuts its kernel down at once (Voila's page sends a beacon
  on ``beforeunload``); for the rest (a browser that crashed, a connection lost) a kernel with
  no connection idle for ``cull_idle_s`` is shut down, checked every ``cull_interval_s``; a
  kernel whose page is open is never culled, nor one waiting in the pool;
- an executor timeout: a cell that runs past ``cell_timeout_s`` stops the page's execution
  with Voila's timeout message instead of a page that spins forever.

The server also serves the job runs' outputs read-only, so that a page can link them:
``/bifrost/runs/<job>/<run id>/<file>`` is ``BIFROST_HOME/runs/<job>/<run id>/<file>``
(`run_file_href` turns an output's path into that link).

The kernels inherit this process's environment with ``BIFROST_HOME`` resolved to an absolute
path (they run in the notebooks' folder) and ``BIFROST_CONFIG`` pointing at the settings file
in use, so a dashboard reads the same store as the command that started it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from bifrost._checks import quote
from bifrost.errors import InvalidInputError

__all__ = [
    "DASHBOARDS",
    "NOT_PREHEATED",
    "READY_PATH",
    "DashboardSettings",
    "dashboard_environment",
    "dashboard_url",
    "dashboards_in",
    "preheat_order",
    "run_file_href",
    "serve",
    "voila_arguments",
    "widgets_dir",
]

# the pages `bifrost dashboard` promises (widgets/<name>.ipynb); others found there are served too
DASHBOARDS: Final = (
    "portfolio_monitor", "order_ticket", "risk_monitor", "backtest_explorer", "job_monitor", "data_explorer",
)  # fmt: skip
# notebooks that read their request (voila.utils.wait_for_request): rendered per request
NOT_PREHEATED: Final[frozenset[str]] = frozenset()
# what a client polls for readiness: a request for a page (or for /) takes a pooled kernel
READY_PATH: Final = "/voila/static/voila.js"
# where the server serves BIFROST_HOME/runs (executed job notebooks and their HTML)
RUNS_ROUTE: Final = "/bifrost/runs/"
TEMPLATE: Final = "bifrost"
# the front-end extensions a page loads: the widget manager (Voila injects its own, which
# needs the JupyterLab one) and plotly's renderer of its mimetype (bifrost.ui draws charts with it; it
# bundles plotly.js, nothing is fetched)
EXTENSIONS: Final = ("@jupyter-widgets/jupyterlab-manager", "@voila-dashboards/widgets-manager8", "jupyterlab-plotly")
_MAX_TIMEOUT_S: Final = 86_400
_CHECKOUT_SHARE: Final = Path(__file__).resolve().parents[1] / "widgets" / "share"


@dataclass(frozen=True, slots=True, kw_only=True)
class DashboardSettings:
    """How `serve` runs Voila on a folder of dashboard notebooks.

    Parameters
    ----------
    root
        The folder of notebooks (default: `widgets_dir`).
    port
        The TCP port on ``host``.
    host
        The address to bind: loopback unless you mean otherwise.
    open_browser
        Open the first dashboard in the default browser once the server is up.
    pool_size
        Preheated kernels kept per notebook; 0 renders every page on demand.
    fill_delay_s
        Seconds before a used pool kernel is replaced.
    cull_idle_s
        Seconds a kernel with no open page may stay idle before it is shut down.
    cull_interval_s
        Seconds between two checks for such kernels.
    cell_timeout_s
        Seconds one cell of a dashboard may run while the page renders.

    Raises
    ------
    InvalidInputError
        If ``root`` holds no notebook or a number is out of range.
    """

    root: Path
    port: int = 8866
    host: str = "127.0.0.1"
    open_browser: bool = False
    pool_size: int = 1
    fill_delay_s: float = 5.0
    cull_idle_s: int = 600
    cull_interval_s: int = 60
    cell_timeout_s: int = 120

    def __post_init__(self) -> None:
        dashboards_in(self.root)  # a folder with notebooks, or a message naming it
        if not 1 <= self.port <= 65535:
            raise InvalidInputError(f"dashboard port must be in 1..65535, got {self.port!r}")
        for name in ("pool_size", "cull_idle_s", "cull_interval_s", "cell_timeout_s"):
            value = getattr(self, name)
            low = 0 if name == "pool_size" else 1
            high = 16 if name == "pool_size" else _MAX_TIMEOUT_S
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise InvalidInputError(f"dashboard {name} must be an integer in {low}..{high}, got {value!r}")
        for name in ("fill_delay_s",):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= _MAX_TIMEOUT_S:
                raise InvalidInputError(f"dashboard {name} must be in 0..{_MAX_TIMEOUT_S} seconds, got {value!r}")


def widgets_dir(folder: str | os.PathLike[str] | None = None) -> Path:
    """Return the dashboards' folder: ``folder``, else ``BIFROST_WIDGETS_DIR``, else the checkout's ``widgets/``."""
    if folder is not None:
        return Path(folder).resolve()
    if os.environ.get("BIFROST_WIDGETS_DIR"):
        return Path(os.environ["BIFROST_WIDGETS_DIR"]).resolve()
    return _CHECKOUT_SHARE.parent


def dashboards_in(root: Path) -> list[str]:
    """Return the names of the notebooks directly in ``root`` (``risk_monitor`` for risk_monitor.ipynb), sorted.

    Raises
    ------
    InvalidInputError
        If ``root`` is not a folder or holds no ``.ipynb`` file.
    """
    if not root.is_dir():
        raise InvalidInputError(f"dashboard folder {quote(str(root))} does not exist or is not a folder")
    names = sorted(p.stem for p in root.glob("*.ipynb") if not p.name.startswith("."))
    if not names:
        raise InvalidInputError(
            f"dashboard folder {quote(str(root))} holds no notebook (*.ipynb); give the folder of the dashboards"
        )
    return names


def preheat_order(root: Path) -> list[str]:
    """Return the notebooks of ``root`` whose kernels are preheated, in the order they are: the `DASHBOARDS` first."""
    names = [n for n in dashboards_in(root) if n not in NOT_PREHEATED]
    return sorted(names, key=lambda n: (DASHBOARDS.index(n) if n in DASHBOARDS else len(DASHBOARDS), n))


def dashboard_url(settings: DashboardSettings, name: str) -> str:
    """Return the address of dashboard ``name`` (``http://127.0.0.1:8866/voila/render/name.ipynb``)."""
    return f"http://{settings.host}:{settings.port}/voila/render/{name}.ipynb"


def run_file_href(path: str | os.PathLike[str] | None, home: str | os.PathLike[str]) -> str | None:
    """Return the dashboard server's link to a job run's output file, or None if it is not under ``home/runs``.

    ``/bifrost/runs/daily/0193.../daily.html`` for ``home/runs/daily/0193.../daily.html``:
    a page served by ``bifrost dashboard`` opens it with an ``<a href>``.
    """
    if path is None:
        return None
    runs = Path(home).resolve() / "runs"
    try:
        relative = Path(path).resolve().relative_to(runs)
    except ValueError:
        return None
    from urllib.parse import quote as url_quote

    return RUNS_ROUTE + url_quote(relative.as_posix())


HIDDEN = ("share", "__pycache__", "*.pyc", "*.py", ".*", "*~", "README.md", "voila.json")


def voila_arguments(settings: DashboardSettings) -> list[str]:
    """Return Voila's command line (after ``voila``) for ``settings``; module docstring: why each."""
    root = settings.root.resolve()
    excluded = sorted(f"{name}.ipynb" for name in NOT_PREHEATED)
    pool = settings.pool_size > 0
    args = [
        str(root),
        f"--Voila.ip={settings.host}",
        f"--Voila.port={settings.port}",
        "--Voila.port_retries=0",  # the port asked for or none (Voila would try the next ones)
        f"--Voila.open_browser={settings.open_browser}",
        f"--Voila.root_dir={root}",
        f"--VoilaConfiguration.template={TEMPLATE}",
        "--VoilaConfiguration.strip_sources=True",
        "--VoilaConfiguration.show_tracebacks=False",
        # a list given item by item (traitlets 5 deprecates a JSON list on the command line)
        *(f"--VoilaConfiguration.extension_allowlist={name}" for name in EXTENSIONS),
        f"--VoilaConfiguration.preheat_kernel={pool}",
        f"--VoilaConfiguration.default_pool_size={max(settings.pool_size, 0)}",
        f"--MappingKernelManager.cull_idle_timeout={settings.cull_idle_s}",
        f"--MappingKernelManager.cull_interval={settings.cull_interval_s}",
        "--MappingKernelManager.cull_connected=False",
        "--MappingKernelManager.cull_busy=False",
        f"--VoilaExecutor.timeout={settings.cell_timeout_s}",
        "--VoilaExecutor.interrupt_on_timeout=False",
        # the list of dashboards at / shows the dashboards: not the template folder, caches or paired .py files
        *(f"--ContentsManager.hide_globs={glob}" for glob in HIDDEN),
    ]
    if pool:
        args.append(f"--VoilaKernelManager.fill_delay={settings.fill_delay_s:g}")
        args += [f"--VoilaKernelManager.preheat_denylist={name}" for name in excluded]
    return args


def dashboard_environment(
    settings: DashboardSettings,
    environ: Mapping[str, str] | None = None,
    *,
    home: Path,
    config_file: Path | None = None,
) -> dict[str, str]:
    """Return the environment Voila (and so every kernel) runs in.

    ``JUPYTER_PATH`` gains ``<root>/share`` (where the ``bifrost`` template lives), with the
    checkout's ``widgets/share`` after it so that a folder of other notebooks gets the template too;
    ``BIFROST_HOME`` is ``home`` made absolute and ``BIFROST_CONFIG`` the settings file in use.
    """
    env = dict(os.environ if environ is None else environ)
    shares = [str(settings.root.resolve() / "share"), str(_CHECKOUT_SHARE)]
    shares = [s for i, s in enumerate(shares) if Path(s).is_dir() and s not in shares[:i]]
    env["JUPYTER_PATH"] = os.pathsep.join([*shares, *filter(None, [env.get("JUPYTER_PATH", "")])])
    env["BIFROST_HOME"] = str(home.resolve())
    if config_file is not None:
        env["BIFROST_CONFIG"] = str(config_file.resolve())
    return env


_keep: list[object] = []  # the preheating task, referred to while the server runs


async def _preheat_in_turn(manager: Any, names: Sequence[str], timeout_s: float) -> None:
    # Voila 0.5's VoilaKernelManager: fill_if_needed() appends to _pools[name] a task that
    # starts a kernel and returns {"task": the notebook's execution, ...}
    import asyncio
    import contextlib
    import logging

    for name in names:
        manager.fill_if_needed(delay=0, notebook_name=name)
        for item in list(manager._pools.get(name, ())):
            try:
                content = await asyncio.wait_for(asyncio.shield(item), timeout_s)
                await asyncio.wait_for(asyncio.shield(content["task"]), timeout_s)
            except Exception as exc:  # a notebook that fails or hangs must not stop the others' preheating
                with contextlib.suppress(Exception):
                    logging.getLogger("bifrost").warning("preheating %s: %s", name, exc)


def serve(settings: DashboardSettings, environ: Mapping[str, str], *, argv_prefix: Sequence[str] = ()) -> int:
    """Run Voila in this process until it is stopped (SIGINT or SIGTERM); return its exit status.

    ``environ`` (from `dashboard_environment`) replaces this process's environment first:
    Voila reads ``JUPYTER_PATH`` and its kernels inherit the rest.
    """
    import socket

    with socket.socket() as probe:
        try:
            probe.bind((settings.host, settings.port))
        except OSError as exc:
            raise InvalidInputError(
                f"dashboard port {settings.port} on {settings.host} is not free ({exc.strerror}); "
                "give another with --port"
            ) from None
    os.environ.clear()
    os.environ.update(environ)
    from voila.app import Voila

    runs = Path(environ["BIFROST_HOME"]) / "runs"

    class _Voila(Voila):  # type: ignore[misc]  # voila ships no type information
        def init_handlers(self) -> list[object]:
            import tornado.web

            route = (RUNS_ROUTE + "(.*)", tornado.web.StaticFileHandler, {"path": str(runs)})
            return [route, *super().init_handlers()]

        def init_settings(self) -> dict[str, object]:
            # Voila fills every notebook's pool at once: five kernels importing and running their
            # dashboards together on a small machine made the first page wait for all of them.
            # The pools start empty and are filled one notebook after another (`preheat_order`),
            # each once the one before has run; a page asked for before its turn renders on demand.
            if settings.pool_size > 0:
                self.config.VoilaKernelManager.kernel_pools_config = {"default": {"pool_size": 0}}
            result: dict[str, object] = super().init_settings()
            if settings.pool_size > 0:
                import asyncio

                manager = self.kernel_manager
                manager.kernel_pools_config = {"default": {"pool_size": settings.pool_size}}
                names = [f"{name}.ipynb" for name in preheat_order(settings.root)]
                turn = _preheat_in_turn(manager, names, settings.cell_timeout_s)
                _keep.append(asyncio.get_event_loop().create_task(turn))  # asyncio keeps tasks weakly
            return result

    app = _Voila()
    app.initialize([*argv_prefix, *voila_arguments(settings)])
    app.start()
    return 0
