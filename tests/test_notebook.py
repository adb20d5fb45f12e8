"""docs/notebooks/*.ipynb run top to bottom in a fresh Jupyter kernel (nbclient), as a
student would run them, and show what they promise: the unrolled graph as SVG, the
per-step contributions of W_s adding up to W_s.grad, and the gradient-flow plot.

The notebooks are committed without outputs (clean diffs, nothing stale); the docs site
executes them at build time (mkdocs-jupyter, ``execute: true`` in mkdocs.yml).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "docs" / "notebooks").glob("*.ipynb"))


def _outputs(nb) -> list[dict]:  # type: ignore[no-untyped-def]
    return [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]


def _text(outputs: list[dict]) -> str:
    return "".join(o.get("text", "") for o in outputs if o["output_type"] == "stream")


def test_there_is_a_notebook() -> None:
    assert "bptt.ipynb" in [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, (
                f"{path.name}: clear the outputs before committing (Jupyter: Edit -> Clear "
                f"Outputs of All Cells; or jupyter nbconvert --clear-output --inplace)")


def test_bptt_notebook_runs_top_to_bottom(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("matplotlib")
    nb = nbformat.read(ROOT / "docs" / "notebooks" / "bptt.ipynb", as_version=4)
    # the kernel inherits this process's environment: this tree's package first
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, naming the cell, if any cell fails
    outputs = _outputs(nb)
    assert not [o for o in outputs if o["output_type"] == "error"]
    kinds = [kind for o in outputs for kind in o.get("data", {})]
    assert "image/svg+xml" in kinds, "the unrolled graph is not shown inline as SVG"
    assert "image/png" in kinds, "the gradient-flow plot is not shown"
    text = _text(outputs)
    for t in (1, 2, 3, 4):  # one contribution of W_s per time step, printed
        assert f"t={t}: MatMul" in text
    assert "equal: True" in text  # the contributions add up to W_s.grad
    for name in ("RNN", "GRU", "LSTM", "LSTM, forget bias 1"):
        assert f"\n{name} " in "\n" + text
