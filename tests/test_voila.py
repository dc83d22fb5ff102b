"""bifrost._voila: how `bifrost dashboard` runs Voila (its command line, environment and links), without a server.

The served behaviour (no request outside 127.0.0.1, culling, the runs route) is tested in a real
browser in tests/widgets/test_browser.py.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from bifrost._voila import (
    DASHBOARDS,
    DashboardSettings,
    dashboard_environment,
    dashboard_url,
    dashboards_in,
    preheat_order,
    run_file_href,
    voila_arguments,
    widgets_dir,
)
from bifrost.errors import InvalidInputError


def _folder(tmp_path: Path, *names: str) -> Path:
    for name in names:
        nbformat.write(nbformat.v4.new_notebook(), tmp_path / f"{name}.ipynb")
    return tmp_path


def test_voila_arguments_default_settings_bind_loopback_preheat_cull_and_time_out(tmp_path: Path) -> None:
    args = voila_arguments(DashboardSettings(root=_folder(tmp_path, "a")))
    assert args[0] == str(tmp_path.resolve())
    for flag in (
        "--Voila.ip=127.0.0.1",
        "--Voila.port=8866",
        "--Voila.port_retries=0",
        "--Voila.open_browser=False",
        "--VoilaConfiguration.template=bifrost",
        "--VoilaConfiguration.strip_sources=True",
        "--VoilaConfiguration.show_tracebacks=False",
        "--VoilaConfiguration.preheat_kernel=True",
        "--VoilaConfiguration.default_pool_size=1",
        "--MappingKernelManager.cull_idle_timeout=600",
        "--MappingKernelManager.cull_interval=60",
        "--MappingKernelManager.cull_connected=False",
        "--VoilaExecutor.timeout=120",
        "--VoilaKernelManager.fill_delay=5",
        "--VoilaConfiguration.extension_allowlist=@jupyter-widgets/jupyterlab-manager",
        "--VoilaConfiguration.extension_allowlist=jupyterlab-plotly",
    ):
        assert flag in args, flag


def test_voila_arguments_pool_size_zero_disables_preheating(tmp_path: Path) -> None:
    args = voila_arguments(DashboardSettings(root=_folder(tmp_path, "a"), pool_size=0, port=9000))
    assert "--VoilaConfiguration.preheat_kernel=False" in args
    assert "--Voila.port=9000" in args
    assert not any(a.startswith("--VoilaKernelManager.") for a in args)


def test_dashboard_settings_folder_without_notebook_raises_naming_it(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="holds no notebook"):
        DashboardSettings(root=tmp_path)
    with pytest.raises(InvalidInputError, match="does not exist"):
        DashboardSettings(root=tmp_path / "nowhere")


@pytest.mark.parametrize(
    ("field", "value"), [("port", 0), ("port", 70000), ("pool_size", -1), ("pool_size", 17), ("cull_idle_s", 0),
                         ("cell_timeout_s", 10**9), ("fill_delay_s", -1.0), ("pool_size", True),
                         ("fill_delay_s", float("nan"))],
)  # fmt: skip
def test_dashboard_settings_out_of_range_raises_naming_the_field(tmp_path: Path, field: str, value: object) -> None:
    with pytest.raises(InvalidInputError, match=field):
        DashboardSettings(root=_folder(tmp_path, "a"), **{field: value})  # type: ignore[arg-type]


def test_dashboards_in_the_checkout_hold_the_five_dashboards() -> None:
    assert set(DASHBOARDS) <= set(dashboards_in(widgets_dir()))


def test_dashboard_url_names_the_render_route(tmp_path: Path) -> None:
    settings = DashboardSettings(root=_folder(tmp_path, "risk_monitor"), port=8123)
    assert dashboard_url(settings, "risk_monitor") == "http://127.0.0.1:8123/voila/render/risk_monitor.ipynb"


def test_dashboard_environment_puts_the_template_first_and_resolves_home(tmp_path: Path) -> None:
    settings = DashboardSettings(root=_folder(tmp_path, "a"))
    env = dashboard_environment(settings, {"JUPYTER_PATH": "/elsewhere"}, home=Path("rel/home"))
    paths = env["JUPYTER_PATH"].split(":")
    assert Path(paths[0], "voila", "templates", "bifrost", "index.html.j2").is_file()
    assert paths[-1] == "/elsewhere"
    assert env["BIFROST_HOME"] == str(Path("rel/home").resolve())
    assert "BIFROST_CONFIG" not in env


def test_dashboard_template_links_no_cdn() -> None:
    template = widgets_dir() / "share" / "voila" / "templates" / "bifrost" / "index.html.j2"
    text = template.read_text()
    assert "extends 'lab/index.html.j2'" in text
    # the two links Voila's lab template writes, removed by exact text: Voila's template must still hold them
    from jupyter_core.paths import jupyter_path

    lab = next(Path(p) for p in jupyter_path("voila", "templates", "lab") if (Path(p) / "index.html.j2").is_file())
    lab_text = (lab / "index.html.j2").read_text()
    for link in (line.strip() for line in lab_text.splitlines() if "cdn.jsdelivr.net" in line):
        assert link in text, f"Voila's lab template links {link}, which the bifrost template does not remove"


def test_run_file_href_under_runs_is_a_link_and_elsewhere_none(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run_file_href(home / "runs" / "daily" / "r 1" / "daily.html", home) == "/bifrost/runs/daily/r%201/daily.html"
    assert run_file_href(home / "other" / "x.html", home) is None
    assert run_file_href(None, home) is None


def test_preheat_order_puts_the_dashboards_first_then_the_others(tmp_path: Path) -> None:
    root = _folder(tmp_path, "zeta", "risk_monitor", "alpha", "portfolio_monitor")
    assert preheat_order(root) == ["portfolio_monitor", "risk_monitor", "alpha", "zeta"]


def test_dashboard_template_page_is_voilas_base_page_without_its_cdn_link() -> None:
    # the list of dashboards at / extends page.html: the template's is Voila's own minus the Font Awesome link
    from jupyter_core.paths import jupyter_path

    ours = (widgets_dir() / "share" / "voila" / "templates" / "bifrost" / "page.html").read_text()
    base = next(Path(p) for p in jupyter_path("voila", "templates", "base") if (Path(p) / "page.html").is_file())
    theirs = (base / "page.html").read_text()
    cdn = [line for line in theirs.splitlines(keepends=True) if "https://" in line]
    assert cdn, "Voila's base page.html no longer links a CDN: drop the template's page.html"
    body = ours.split("-#}\n", 1)[1]
    assert body == "".join(line for line in theirs.splitlines(keepends=True) if line not in cdn)
    assert "https://" not in body
