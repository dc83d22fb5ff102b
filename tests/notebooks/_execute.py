"""Execute a research notebook with papermill, as JupyterLab would run it, and read back what it computed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import papermill

from tests.conftest import ROOT

NOTEBOOKS = ROOT / "notebooks"


@dataclass(frozen=True, slots=True, kw_only=True)
class Executed:
    path: Path  # the executed notebook (papermill's output)
    notebook: Any  # nbformat.NotebookNode
    summary: dict[str, Any]  # the JSON the cell tagged `summary` displayed

    def outputs(self, kind: str) -> list[str]:
        """Every output of `kind` (a mimetype, or "stderr"/"stdout" for streams), as text."""
        found = []
        for cell in self.notebook.cells:
            for out in cell.get("outputs", []):
                if out.output_type == "stream" and out.name == kind:
                    found.append(out.text)
                elif kind in out.get("data", {}):
                    value = out.data[kind]
                    found.append(value if isinstance(value, str) else "".join(value))
        return found


def execute(name: str, folder: Path, **parameters: Any) -> Executed:
    """Run notebooks/<name>.ipynb top to bottom in `folder` with `parameters`; raise if a cell fails."""
    target = folder / f"{name}.ipynb"
    papermill.execute_notebook(
        NOTEBOOKS / f"{name}.ipynb", target, parameters=parameters, cwd=str(NOTEBOOKS),
        kernel_name="python3", progress_bar=False, request_save_on_cell_execute=False,
    )  # fmt: skip
    nb = nbformat.read(target, as_version=4)
    assert nb.metadata.papermill.exception is None or nb.metadata.papermill.exception is False
    tagged = [c for c in nb.cells if "summary" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{name}: expected one cell tagged summary, found {len(tagged)}"
    data = [o.data["application/json"] for o in tagged[0].outputs if "application/json" in o.get("data", {})]
    assert len(data) == 1, f"{name}: the summary cell displayed {len(data)} JSON outputs"
    executed = Executed(path=target, notebook=nb, summary=dict(data[0]))
    stderr = executed.outputs("stderr")  # a warning in a cell lands here: warnings are errors in notebooks too
    assert stderr == [], f"{name} wrote to stderr: {stderr}"
    return executed
