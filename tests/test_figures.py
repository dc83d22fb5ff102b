"""Figures in notebooks: a notebook with a tearsheet, a risk report and a sweep's heatmap,
executed by a real kernel (nbclient), stays small (plotly.js once), keeps every figure with
its title, and draws them all once nbconvert has made it a page (Chromium)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbconvert import HTMLExporter
from plotly.offline import get_plotlyjs

from tests.analytics.test_tearsheet import CHROMIUM
from tests.conftest import NVDA, ORCL, SPY, YHOO
from tests.risk.test_report import home  # noqa: F401  (module fixture: a store with a three-stock book)

SETUP = f"""
import tempfile
from decimal import Decimal
import pandas as pd
from bifrost.analytics import tearsheet
from bifrost.data import CsvSource, EmbeddedStore, ingest, load_bars
from bifrost.portfolio import CashFlow, CashKind, Fill, Side, record_transactions
from bifrost.risk import book_from_store, risk_report
from bifrost.strategy import sweep

def returns(path, symbol, column):
    bars = load_bars(CsvSource(path, symbol=symbol)).bars[column].droplevel("symbol")
    return bars.pct_change().rename(symbol)

orcl = returns({str(ORCL)!r}, "ORCL", "close").loc["2012":"2014"]
spy = returns({str(SPY)!r}, "SPY", "adj_close")
home = tempfile.mkdtemp()
T0 = pd.Timestamp("2014-01-02", tz="UTC")
with EmbeddedStore(home) as store:
    for symbol, file in (("ORCL", {str(ORCL)!r}), ("NVDA", {str(NVDA)!r}), ("YHOO", {str(YHOO)!r})):
        ingest(store, CsvSource(file, symbol=symbol), start="2012-01-01")
    txns = [CashFlow(txn_id="d", ts=T0, kind=CashKind.DEPOSIT, amount=Decimal(100_000))]
    txns += [Fill(txn_id=s, ts=T0, symbol=s, side=Side.BUY, quantity=Decimal(q), price=Decimal(30))
             for s, q in (("ORCL", 1000), ("NVDA", 500), ("YHOO", 300))]
    record_transactions(store, "book", txns, create=True)
    book = book_from_store(store, "book")
    panel = store.read_panel(["ORCL", "NVDA"], "2012-01-01")
"""
CELLS = [
    SETUP,
    'tearsheet(orcl, spy, title="ORCL against SPY")',
    "risk_report(book, methods=('historical', 'parametric'))",
    "sweep(panel, 'sma_cross', {'fast': [5, 10, 20], 'slow': [30, 50]}).heatmap()",
]
TEARSHEET_TITLES = [
    "Cumulative returns", "Drawdown (underwater)", "Monthly returns", "Annual returns",
    "Rolling volatility (126 days)", "Rolling Sharpe ratio (126 days)", "Rolling beta to SPY (126 days)",
    "Distribution of daily returns",
]  # fmt: skip
RISK_TITLES = ["one-day VaR against what happened", "Contribution to VaR", "Stress tests on today's positions"]
HEATMAP_TITLE = "sma_cross: sharpe_ratio by fast and slow"


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("notebook")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    path = folder / "figures.ipynb"
    nbformat.write(nb, path)
    return path


def _html(output: dict) -> str:  # type: ignore[type-arg]
    return "".join(output["data"]["text/html"])


def test_notebook_holds_plotlyjs_once_and_every_figure_with_its_title(executed: Path) -> None:
    assert executed.stat().st_size < 6_000_000  # one tearsheet cell was 34 MB: seven copies of plotly.js
    nb = nbformat.read(executed, as_version=4)
    outputs = [cell.outputs for cell in nb.cells[1:]]
    assert all(len(o) == 1 and o[0].output_type in ("execute_result", "display_data") for o in outputs)
    html = [_html(o[0]) for o in outputs]  # every figure cell has HTML, which nbconvert and Voila keep
    text = executed.read_text()
    assert text.count("* plotly.js v") == 1  # the bundle's licence header: once in the whole notebook
    assert get_plotlyjs()[:200] in html[0] and all(get_plotlyjs()[:200] not in h for h in html[1:])
    assert [h.count("class='bifrost-figure'") for h in html] == [len(TEARSHEET_TITLES), len(RISK_TITLES), 1]
    for h, titles in zip(html, (TEARSHEET_TITLES, RISK_TITLES, [HEATMAP_TITLE]), strict=True):
        for title in titles:
            assert title.replace("'", "\\u0027") in h or title in h, title  # in the figure's own layout
    assert "Worst drawdown periods" in html[0] and "Value at risk and expected shortfall" in html[1]


def test_nbconvert_keeps_and_chromium_draws_every_figure(executed: Path, tmp_path: Path) -> None:
    nb = nbformat.read(executed, as_version=4)
    body, _ = HTMLExporter().from_notebook_node(nb)  # warnings are errors here: nothing dropped
    page = tmp_path / "figures.html"
    page.write_text(body)
    dom = subprocess.run(
        [*CHROMIUM, f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=20000", "--dump-dom",
         page.as_uri()],
        capture_output=True, text=True, timeout=180, check=True,
    ).stdout  # fmt: skip
    assert dom.count('class="plot-container plotly"') == len(TEARSHEET_TITLES) + len(RISK_TITLES) + 1
    for title in [*TEARSHEET_TITLES, HEATMAP_TITLE]:
        assert f">{title}<" in dom.replace("&gt;", ">"), title  # drawn as the figure's SVG title


def test_figures_html_sends_plotlyjs_once_a_kernel() -> None:
    import plotly.graph_objects as go

    import bifrost._figures as f
    from bifrost._figures import figure_html, figures_html

    fig = go.Figure(go.Scatter(x=[1, 2], y=[3, 4]), layout={"title": {"text": "a </script> title"}})
    f._SENT["plotlyjs"] = False
    first, second = figures_html([("a", fig)]), figures_html([("b", fig)])
    assert get_plotlyjs() in first and get_plotlyjs() not in second
    one = figure_html(fig)
    assert "</script>" not in one.split("<script type='text/javascript'>", 1)[1][:-len("</script>")]
    assert "height:420px" in one  # a fixed height, never the window's


def test_risk_report_blocks_do_not_run_together_and_charts_have_a_fixed_height(home: Path) -> None:  # noqa: F811
    from bifrost.data import EmbeddedStore
    from bifrost.risk import book_from_store, risk_report

    with EmbeddedStore(home) as store:
        report = risk_report(book_from_store(store, "book"), methods=("historical",))
    page = report.to_html()
    body = page[page.index("<body>") :]
    # each heading, text and table a block of its own (the backtest's text ran into the tables)
    assert "<h4>Value at risk and expected shortfall, 99.0% over 1 day</h4>" in body
    assert "<p><b>VaR backtest</b>" in body
    heights = re.findall(r"class='bifrost-figure' style='height:(\d+)px", body)
    assert len(heights) == 3 and all(200 <= int(h) <= 1000 for h in heights)  # never the window's height
    for _, fig in report.figures[:2]:
        assert fig.layout.title.text and fig.layout.xaxis.title.text and fig.layout.yaxis.title.text
    assert re.search(r"<td>\d+\.\d\d%</td>", body.split("Value at risk and expected shortfall", 1)[1])


def test_plotlyjs_is_sent_again_when_the_cell_that_carried_it_runs_again() -> None:
    # found by QA: running the first chart cell again cleared plotly.js from the page (its new output had none),
    # and every chart of the notebook went blank. A real kernel, asked to run cells by id as JupyterLab asks.
    from jupyter_client.manager import start_new_kernel

    code = (
        "import plotly.graph_objects as go\nfrom IPython.display import HTML, display\n"
        "from bifrost._figures import figures_html\n"
        "display(HTML(figures_html([('a', go.Figure(go.Scatter(x=[1, 2], y=[3, 4])))])))"
    )
    manager, client = start_new_kernel(kernel_name="python3")
    try:

        def run(cell: str) -> int:
            msg = client.session.msg("execute_request", {"code": code, "silent": False}, metadata={"cellId": cell})
            client.shell_channel.send(msg)
            sizes = []
            while True:
                reply = client.get_iopub_msg(timeout=120)
                if reply["parent_header"].get("msg_id") != msg["header"]["msg_id"]:
                    continue
                if reply["msg_type"] == "display_data":
                    sizes.append(len(reply["content"]["data"]["text/html"]))
                if reply["msg_type"] == "error":
                    raise AssertionError(reply["content"]["evalue"])
                if reply["msg_type"] == "status" and reply["content"]["execution_state"] == "idle":
                    return sizes[0]

        bundle = len(get_plotlyjs())
        assert run("first") > bundle  # the first chart of the kernel carries plotly.js
        assert run("second") < bundle  # later ones draw with it
        assert run("first") > bundle  # its cell runs again: its old output (and plotly.js) is gone
        assert run("second") < bundle
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
