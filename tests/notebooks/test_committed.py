"""Every notebook in notebooks/, widgets/ and papermill_jobs/ is committed without outputs, on the python3 kernel,
paired with a jupytext py:percent file that says the same, and every research notebook is executed by a test."""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat
import pytest

from tests.conftest import ROOT

FOLDERS = ("notebooks", "widgets", "papermill_jobs")
HEADER = "# ---\n# jupyter:\n"  # how jupytext's percent format opens a paired script


def _visible(path: Path) -> bool:
    return not any(part.startswith(".") for part in path.relative_to(ROOT).parts)


NOTEBOOKS = sorted(p for f in FOLDERS for p in (ROOT / f).rglob("*.ipynb") if _visible(p))
SCRIPTS = sorted(
    p for f in FOLDERS for p in (ROOT / f).rglob("*.py") if _visible(p) and p.read_text().startswith(HEADER)
)
IDS = [str(p.relative_to(ROOT)) for p in NOTEBOOKS]


def _cells(nb: nbformat.NotebookNode) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(c.cell_type, c.source.strip(), tuple(c.metadata.get("tags", ()))) for c in nb.cells]


def test_committed_research_notebooks_exist() -> None:
    research = [p.stem for p in NOTEBOOKS if p.parent == ROOT / "notebooks"]
    assert research[:5] == ["01_quickstart", "02_market_data", "03_portfolio_analytics", "04_strategy_research",
                            "05_risk"]  # fmt: skip


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_committed_notebook_has_no_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    dirty = [i for i, c in code if c.outputs or c.execution_count is not None]
    assert dirty == [], f"{path.name}: cells {dirty} have outputs; strip them (jupytext --sync, then clear outputs)"
    assert "widgets" not in nb.metadata  # saved widget state is an output too
    assert nb.metadata.kernelspec.name == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_committed_notebook_is_paired_and_in_sync_with_its_py_file(path: Path) -> None:
    script = path.with_suffix(".py")
    assert script.exists(), f"{path.name} has no py:percent pair: jupytext --set-formats ipynb,py:percent {path}"
    assert "py:percent" in nbformat.read(path, as_version=4).metadata.get("jupytext", {}).get("formats", "")
    ours = _cells(nbformat.read(path, as_version=4))
    theirs = _cells(jupytext.read(script, fmt="py:percent"))
    assert ours == theirs, f"{path.name} and {script.name} differ: run jupytext --sync {path}"


@pytest.mark.parametrize("script", SCRIPTS, ids=[str(p.relative_to(ROOT)) for p in SCRIPTS])
def test_committed_percent_script_has_its_notebook(script: Path) -> None:
    assert script.with_suffix(".ipynb").exists(), f"{script.name} has no .ipynb: jupytext --sync {script}"


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p.parent == ROOT / "notebooks"], ids=lambda p: p.stem)
def test_committed_research_notebook_has_parameters_and_summary_and_a_test(path: Path) -> None:
    tags = [t for c in nbformat.read(path, as_version=4).cells for t in c.metadata.get("tags", ())]
    assert tags.count("parameters") == 1 and tags.count("summary") == 1, path.name
    tests = "".join(p.read_text() for p in Path(__file__).parent.glob("test_*.py") if p.name != Path(__file__).name)
    assert f'execute("{path.stem}"' in tests, f"no test in tests/notebooks/ executes {path.name}"
