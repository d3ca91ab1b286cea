"""The investigator walkthrough runs top to bottom on this venv's Python."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = Path(__file__).parent.parent / "notebooks" / "investigate.ipynb"
KERNEL = "sybilgraph-test"


def _text(cell: Any) -> str:
    """Everything a cell printed or displayed, as text."""
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(output["text"])
        for kind in ("text/plain", "text/html"):
            if kind in output.get("data", {}):
                parts.append(output["data"][kind])
    return "\n".join(parts)


def _tagged(notebook: Any, tag: str) -> Any:
    return next(c for c in notebook.cells if tag in c.get("metadata", {}).get("tags", []))


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> Any:
    # a kernelspec for exactly this interpreter, found first on JUPYTER_PATH, so a
    # user's or the system's "python3" kernel can never stand in for the venv
    jupyter = tmp_path_factory.mktemp("jupyter")
    spec = jupyter / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": KERNEL, "language": "python"})
    )
    patch = pytest.MonkeyPatch()
    patch.setenv("JUPYTER_PATH", str(jupyter))
    patch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.executable)"))
    try:
        client = nbclient.NotebookClient(
            notebook,
            kernel_name=KERNEL,
            timeout=300,
            resources={"metadata": {"path": str(NOTEBOOK.parent)}},
        )
        client.execute()
    finally:
        patch.undo()
    return notebook


def test_committed_without_outputs() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


def test_runs_on_this_python(executed: Any) -> None:
    assert _text(executed.cells[-1]).strip() == sys.executable


def test_shows_the_top_cluster(executed: Any) -> None:
    top = _text(_tagged(executed, "top"))
    assert top.startswith("top cluster: C")
    top_id = top.split()[2]
    assert f"Cluster('{top_id}': rank 1," in top
    # the ranked table's first row is that cluster, and its view is inline
    table = _tagged(executed, "clusters").outputs[0]["data"]["text/plain"].splitlines()
    assert table[1].split()[:3] == ["0", top_id, "1"]
    assert "<iframe srcdoc=" in _text(_tagged(executed, "view"))
    assert _text(_tagged(executed, "reasons")).count("\n- ") >= 1


def test_explains_and_expands(executed: Any) -> None:
    assert " are linked (both in cluster " in _text(_tagged(executed, "explain"))
    assert "Neighborhood(" in _text(_tagged(executed, "neighborhood"))


def test_rerun_honours_the_verdicts(executed: Any) -> None:
    rerun = _text(_tagged(executed, "rerun"))
    assert "hub reason: ['labelled benign']" in rerun
    before, after = (int(n) for n in rerun.split("before: ")[1].split()[0:3:2])
    assert before > 0 and after == 0
    assert "confirmed sybil by an investigator" in rerun
