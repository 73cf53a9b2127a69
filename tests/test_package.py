"""The package layout: importable as covgap, never as coverage."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _run_from_repo_root(code: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(REPO / "coverage")
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_source_root_is_not_a_package() -> None:
    assert not (REPO / "coverage" / "__init__.py").exists()
    assert (REPO / "coverage" / "covgap" / "__init__.py").is_file()


def test_imports_from_repo_root_with_numba() -> None:
    # From the repo root, "coverage/" would be a namespace package; numba's
    # coverage.py hook would then fail on coverage.types. covgap guards it.
    code = (
        "import importlib.util, sys\n"
        "import covgap, numba\n"
        "spec = importlib.util.find_spec('coverage') if sys.modules.get('coverage', 1) else None\n"
        "mod = sys.modules.get('coverage')\n"
        "assert mod is None or getattr(mod, '__file__', None), mod\n"
        "print('ok', covgap.__version__)\n"
    )
    result = _run_from_repo_root(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok ")


def test_guard_keeps_a_real_coverage_package(tmp_path: Path) -> None:
    # A regular package named coverage (standing in for coverage.py) must stay
    # importable after covgap is imported.
    fake = tmp_path / "site" / "coverage"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("REAL = True\n", encoding="utf-8")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "coverage"), str(tmp_path / "site")])
    result = subprocess.run(
        [sys.executable, "-c", "import covgap, coverage; print(coverage.REAL)"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_namespace_shadow_is_blocked() -> None:
    code = (
        "import sys\n"
        "sys.modules.pop('coverage', None)\n"
        "import covgap\n"
        "try:\n"
        "    import coverage\n"
        "except ImportError:\n"
        "    print('blocked')\n"
        "else:\n"
        "    print('real' if getattr(coverage, '__file__', None) else 'shadow')\n"
    )
    result = _run_from_repo_root(code)
    assert result.returncode == 0, result.stderr
    try:
        import coverage  # noqa: F401  (the real coverage.py, if installed)

        real = getattr(sys.modules.get("coverage"), "__file__", None) is not None
    except ImportError:
        real = False
    assert result.stdout.strip() == ("real" if real else "blocked")


@pytest.mark.parametrize("name", ["covgap.errors", "covgap.data.text", "covgap.cli"])
def test_modules_import(name: str) -> None:
    __import__(name)


def test_public_api_is_lazy_and_callable() -> None:
    code = (
        "import sys, covgap\n"
        "assert 'numba' not in sys.modules, 'import covgap must not load numba'\n"
        "assert callable(covgap.viewshed) and callable(covgap.analyse)\n"
        "assert callable(covgap.plan_sites) and callable(covgap.load_dataset)\n"
        "print('ok')\n"
    )
    result = _run_from_repo_root(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_covgap_viewshed_on_flat_dem(tmp_path: Path) -> None:
    import numpy as np
    import rasterio
    from affine import Affine

    import covgap

    dem = tmp_path / "flat.tif"
    with rasterio.open(
        dem, "w", driver="GTiff", width=50, height=40, count=1, dtype="float32",
        crs="EPSG:32648", transform=Affine(30.0, 0.0, 300_000.0, 0.0, -30.0, 2_400_000.0),
    ) as dst:  # fmt: skip
        dst.write(np.full((40, 50), 500.0, dtype="float32"), 1)
    vis = covgap.viewshed(dem, [(300_750.0, 2_399_400.0)], 300.0, 30.0, 1.5, 0.75)
    assert vis.shape == (1, 40, 50) and vis.dtype == bool
    # Flat ground: everything within 300 m is visible, nothing beyond.
    rows, cols = np.mgrid[0:40, 0:50]
    dist = np.hypot((cols + 0.5) * 30 - 750, (rows + 0.5) * 30 - 600)
    assert vis[0][dist <= 270].all()
    assert not vis[0][dist > 330].any()
