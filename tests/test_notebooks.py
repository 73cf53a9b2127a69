"""The analysts' notebooks run top to bottom on the demo (benchmarks/wallclock.py times them)."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _outputs(nb: object, kind: str) -> list[dict]:
    return [
        o
        for cell in nb.cells
        if cell.cell_type == "code"
        for o in cell.get("outputs", [])
        if kind in o.get("data", {})
    ]


@pytest.mark.parametrize(
    "name", ["01_district_gaps.ipynb", "02_tower_plan.ipynb", "03_scenarios.ipynb"]
)
def test_notebook_runs_top_to_bottom(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = NOTEBOOKS / name
    stored = nbformat.read(path, as_version=4)
    # Stored without outputs, so the repository holds no stale results.
    assert all(
        not c.get("outputs") and c.get("execution_count") is None
        for c in stored.cells
        if c.cell_type == "code"
    )
    monkeypatch.setenv("COVGAP_NOTEBOOK_OUT", str(tmp_path / "out"))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    client = nbclient.NotebookClient(
        stored, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    executed = client.execute()
    errors = [
        o for c in executed.cells for o in c.get("outputs", []) if o.get("output_type") == "error"
    ]
    assert not errors
    # Results display themselves: HTML tables (and the map), PNG figures.
    assert _outputs(executed, "text/html")
    assert _outputs(executed, "image/png")
    written = sorted(p.name for p in (tmp_path / "out").rglob("*") if p.is_file())
    if name == "02_tower_plan.ipynb":
        assert "plot_coverage_curve.png" in written and "priorities.xlsx" in written
    if name == "03_scenarios.ipynb":
        assert written == ["comparison.csv", "sensitivity.csv"]
