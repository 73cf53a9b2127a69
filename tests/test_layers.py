"""The package's layers: stages import downwards only, and the lower stages stay light."""

from __future__ import annotations

import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import covgap

REPO = Path(__file__).resolve().parents[1]

#: What the publishing stage brings in; the stages below it must not.
PUBLISHING = ("folium", "branca", "jinja2", "openpyxl", "matplotlib")


def _modules(package: str) -> list[str]:
    module = __import__(package, fromlist=["__path__"])
    found = [package]
    for info in pkgutil.walk_packages(module.__path__, prefix=f"{package}."):
        found.append(info.name)
    return sorted(found)


@pytest.mark.parametrize("package", ["covgap.data", "covgap.radio", "covgap.planning"])
def test_lower_stages_do_not_load_publishing_libraries(package: str) -> None:
    modules = _modules(package)
    assert len(modules) > 3, modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(sorted(m for m in {PUBLISHING!r} if m in sys.modules))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(REPO / "coverage")
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"{package} loads {result.stdout.strip()}"


def _graph():  # type: ignore[no-untyped-def]
    grimp = pytest.importorskip("grimp", reason="grimp comes with import-linter (test extra)")
    return grimp.build_graph("covgap", exclude_type_checking_imports=True)


def test_no_import_cycles_even_inside_functions() -> None:
    graph = _graph()
    # Tarjan's strongly connected components over every import grimp sees,
    # module level and inside functions alike.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph.find_modules_directly_imported_by(node)):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    assert cycles == []


def test_layers_contract_holds() -> None:
    pytest.importorskip("importlinter", reason="import-linter is in the test extra")
    result = subprocess.run(
        ["lint-imports", "--no-cache"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_kernels_stay_private_to_their_stage() -> None:
    graph = _graph()
    kernels = [m for m in graph.modules if m.rsplit(".", 1)[-1].startswith("_mclp")]
    kernels += [m for m in graph.modules if m.endswith(("._raycast", "._merge", "._itm"))]
    assert kernels
    for kernel in kernels:
        stage = kernel.rsplit(".", 1)[0]
        for importer in graph.find_modules_that_directly_import(kernel):
            assert importer.startswith(stage + "."), f"{importer} reaches into {kernel}"


def test_top_level_names_keep_working() -> None:
    for name in covgap.__all__:
        assert getattr(covgap, name) is not None
