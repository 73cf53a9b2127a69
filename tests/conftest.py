"""Shared fixtures: a small synthetic dataset folder near Tủa Chùa (103.35 E, 21.95 N).

``make_dataset(**overrides)`` writes a valid dataset folder and returns its path:

- 2 communes (``C01`` Xã Tả Phìn, ``C02`` Xã Sính Phình), 3 villages each
  (``V01``-``V06``), 8 settlements;
- power: V03 and V06 without grid power; survey: V02, V03, V05 without signal,
  so uncovered = V02, V03, V05; unpowered = V03, V06; both = V03;
- a medium-voltage grid, 9 OpenCelliD cells (3 Viettel sites, 1 MobiFone,
  1 VinaPhone) and a sites.csv whose Viettel site ``VT-A`` sits on the first
  Viettel cluster, plus a 200 x 200 DEM at 30 m in EPSG:32648.

Overrides: ``communes``, ``villages``, ``settlements``, ``grid`` (lists of
GeoJSON features, ``None`` to omit the file); ``power``, ``survey``, ``cells``,
``sites`` (lists of row dicts, or ``str``/``bytes`` written verbatim, ``None``
to omit); ``vector_crs`` (write the GeoJSON files in this CRS, declaring it
unless ``declare_crs=False``); ``toml`` (text or ``None``); ``dem`` (bool); ``encoding`` of the
CSVs (``utf-8``, ``utf-8-sig``, ``cp1258``, ``utf-16``); ``nfd`` (write every
name in NFD); ``sep`` (CSV separator); ``root`` (folder, default
``tmp_path / "dataset"``).
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

LON0, LAT0 = 103.33, 21.94  # south-west corner of the synthetic communes
DX, DY = 0.02, 0.02  # commune size in degrees (about 2.1 x 2.2 km)

VILLAGE_NAMES = {
    "V01": ("Bản Huổi Só", "C01"),
    "V02": ("Bản Tả Phìn", "C01"),
    "V03": ("Bản Háng Đề Dê", "C01"),
    "V04": ("Bản Sính Phình", "C02"),
    "V05": ("Bản Đề Dê Hu", "C02"),
    "V06": ("Bản Páo Tỉnh Làng", "C02"),
}
COMMUNE_NAMES = {"C01": "Xã Tả Phìn", "C02": "Xã Sính Phình"}
HOUSEHOLDS = {"V01": 40, "V02": 55, "V03": 30, "V04": 80, "V05": 25, "V06": 35}
UNPOWERED = {"V03", "V06"}
NO_SIGNAL = {"V02", "V03", "V05"}


def box(x0: float, y0: float, x1: float, y1: float) -> dict[str, Any]:
    """GeoJSON polygon of a lon/lat rectangle."""
    return {
        "type": "Polygon",
        "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]],
    }


def feature(geometry: dict[str, Any] | None, **properties: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def default_communes() -> list[dict[str, Any]]:
    return [
        feature(
            box(LON0 + i * DX, LAT0, LON0 + (i + 1) * DX, LAT0 + DY),
            commune_code=code,
            commune_name=COMMUNE_NAMES[code],
            population=1000 + 500 * i,
        )
        for i, code in enumerate(["C01", "C02"])
    ]


def village_box(code: str) -> tuple[float, float, float, float]:
    """The village's lon/lat rectangle: a third of its commune, west to east."""
    i = int(code[1:]) - 1
    x0 = LON0 + (i // 3) * DX + (i % 3) * DX / 3
    return (x0, LAT0, x0 + DX / 3, LAT0 + DY)


def default_villages() -> list[dict[str, Any]]:
    return [
        feature(
            box(*village_box(code)),
            village_code=code,
            village_name=name,
            commune_code=commune,
            population=HOUSEHOLDS[code] * 5,
            households=HOUSEHOLDS[code],
        )
        for code, (name, commune) in VILLAGE_NAMES.items()
    ]


def default_settlements() -> list[dict[str, Any]]:
    out = []
    for code in VILLAGE_NAMES:
        x0, y0, x1, y1 = village_box(code)
        cx = (x0 + x1) / 2
        parts = [HOUSEHOLDS[code]] if code not in ("V01", "V04") else [HOUSEHOLDS[code] - 10, 10]
        for k, hh in enumerate(parts):
            pt = {"type": "Point", "coordinates": [cx, y0 + (k + 1) * (y1 - y0) / (len(parts) + 1)]}
            out.append(feature(pt, village_code=code, households=hh))
    return out


def default_grid() -> list[dict[str, Any]]:
    line = {"type": "LineString", "coordinates": [[LON0, LAT0 + 0.005], [LON0 + DX, LAT0 + 0.015]]}
    return [feature(line, voltage_kv=35)]


def default_power() -> list[dict[str, Any]]:
    return [
        {"village_code": code, "grid_power": "không" if code in UNPOWERED else "có"}
        for code in VILLAGE_NAMES
    ]


def default_survey() -> list[dict[str, Any]]:
    return [
        {"village_code": code, "mobile_signal": "no" if code in NO_SIGNAL else "yes"}
        for code in VILLAGE_NAMES
    ]


CELL_HEADER = [
    "radio", "mcc", "net", "area", "cell", "unit", "lon", "lat", "range",
    "samples", "changeable", "created", "updated", "averageSignal",
]  # fmt: skip


def cell(radio: str, net: int, cid: int, lon: float, lat: float, samples: int = 5) -> dict:
    return {
        "radio": radio, "mcc": 452, "net": net, "area": 10, "cell": cid, "unit": "",
        "lon": lon, "lat": lat, "range": 1000, "samples": samples, "changeable": 1,
        "created": 1500000000, "updated": 1600000000, "averageSignal": 0,
    }  # fmt: skip


def default_cells() -> list[dict[str, Any]]:
    return [
        # Viettel site 1: three cells scattered ~50-100 m around (103.345, 21.955)
        cell("GSM", 4, 1, 103.3450, 21.9550, 10),
        cell("GSM", 4, 2, 103.3455, 21.9553, 10),
        cell("LTE", 4, 3, 103.3447, 21.9545, 20),
        # Viettel site 2 (~2 km east)
        cell("LTE", 4, 4, 103.3650, 21.9450),
        cell("LTE", 4, 5, 103.3652, 21.9452),
        # Viettel site 3 (a lone cell)
        cell("UMTS", 4, 6, 103.3550, 21.9590),
        # MobiFone: one site on the same place as Viettel site 1 (a shared mast)
        cell("GSM", 1, 7, 103.3451, 21.9551),
        cell("GSM", 1, 8, 103.3453, 21.9549),
        # VinaPhone
        cell("UMTS", 2, 9, 103.3600, 21.9500),
    ]


def default_sites() -> list[dict[str, Any]]:
    return [
        {"site_id": "VT-A", "operator": "Viettel", "lon": 103.3451, "lat": 21.9551,
         "height_m": 30, "radio": "", "power_source": "grid"},
        {"site_id": "VNP-B", "operator": "VNPT", "lon": 103.3400, "lat": 21.9420,
         "height_m": "", "radio": "LTE", "power_source": "solar"},
    ]  # fmt: skip


DEFAULT_TOML = """\
name = "test_dataset"
title = "Test dataset"
description = "Six villages near Tủa Chùa, for tests"
synthetic = true
"""


def to_cp1258(text: str) -> bytes:
    """Encode Vietnamese text as Windows-1258 (tones as combining marks)."""
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        try:
            out += ch.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        base, *marks = unicodedata.normalize("NFD", ch)
        # keep a vowel modifier (circumflex, breve, horn) precomposed when possible;
        # NFD puts a dot below before the circumflex ("ệ" = e + dot below + circumflex)
        for k, mark in enumerate(marks):
            composed = unicodedata.normalize("NFC", base + mark)
            try:
                composed.encode("cp1258")
            except UnicodeEncodeError:
                continue
            base, marks = composed, marks[:k] + marks[k + 1 :]
            break
        out += base.encode("cp1258") + "".join(marks).encode("cp1258")
    return bytes(out)


def encode(text: str, encoding: str) -> bytes:
    if encoding == "cp1258":
        return to_cp1258(text)
    return text.encode(encoding)


def csv_text(rows: list[dict[str, Any]], sep: str = ",", columns: list[str] | None = None) -> str:
    columns = columns or list(dict.fromkeys(k for r in rows for k in r))
    lines = [sep.join(columns)]
    for r in rows:
        lines.append(sep.join(str(r.get(c, "")) for c in columns))
    return "\n".join(lines) + "\n"


def write_geojson(
    path: Path, features: list[dict[str, Any]], *, nfd: bool = False, crs: str | None = None
) -> None:
    doc: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    if crs is not None:
        doc["crs"] = {"type": "name", "properties": {"name": crs}}
    text = json.dumps(doc, ensure_ascii=False)
    if nfd:
        text = unicodedata.normalize("NFD", text)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def reproject_features(features: list[dict[str, Any]], crs: str) -> list[dict[str, Any]]:
    """Return copies of lon/lat ``features`` with coordinates transformed to ``crs``."""
    from pyproj import Transformer

    t = Transformer.from_crs("EPSG:4326", crs, always_xy=True)

    def convert(coords: Any) -> Any:
        if isinstance(coords[0], (int, float)):
            return list(t.transform(coords[0], coords[1]))
        return [convert(c) for c in coords]

    out = []
    for f in features:
        g = f["geometry"]
        geom = None if g is None else {"type": g["type"], "coordinates": convert(g["coordinates"])}
        out.append({**f, "geometry": geom})
    return out


def write_float_dem(
    path: Path, z: Any, transform: Any, crs: str = "EPSG:32648", nodata: float | None = None
) -> Path:
    """Write ``z`` as a one-band float32 GeoTIFF DEM and return its path."""
    import rasterio

    z = np.asarray(z, np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(
        path, "w", driver="GTiff", height=z.shape[0], width=z.shape[1], count=1,
        dtype="float32", crs=crs, transform=transform, nodata=nodata,
    ) as dst:  # fmt: skip
        dst.write(z, 1)
    return path


def write_dem(path: Path) -> None:
    """Write a 200 x 200 DEM, 30 m cells, EPSG:32648, a gentle slope from 800 to about 1,000 m."""
    from affine import Affine

    rows, cols = np.mgrid[0:200, 0:200]
    transform = Affine(30.0, 0.0, 326_400.0, 0.0, -30.0, 2_431_500.0)
    write_float_dem(path, 800.0 + 0.5 * cols + 0.5 * rows, transform, nodata=-9999.0)


def write_dataset(root: Path, **overrides: Any) -> Path:
    """Write the synthetic dataset to ``root`` (see module docstring) and return it."""
    known = {
        "communes", "villages", "settlements", "grid", "power", "survey", "cells", "sites",
        "toml", "dem", "encoding", "nfd", "sep", "vector_crs", "declare_crs",
    }  # fmt: skip
    unknown = set(overrides) - known
    if unknown:
        raise TypeError(f"unknown overrides: {sorted(unknown)}")
    encoding = overrides.get("encoding", "utf-8")
    nfd = overrides.get("nfd", False)
    sep = overrides.get("sep", ",")
    root.mkdir(parents=True, exist_ok=True)

    vectors = {
        "boundaries/communes.geojson": overrides.get("communes", default_communes()),
        "boundaries/villages.geojson": overrides.get("villages", default_villages()),
        "boundaries/settlements.geojson": overrides.get("settlements", default_settlements()),
        "electricity/grid.geojson": overrides.get("grid", default_grid()),
    }
    vector_crs = overrides.get("vector_crs")
    declare = overrides.get("declare_crs", True)
    for rel, features in vectors.items():
        if features is None:
            continue
        if vector_crs is not None:
            features = reproject_features(features, vector_crs)
        crs = vector_crs if (vector_crs is not None and declare) else None
        write_geojson(root / rel, features, nfd=nfd, crs=crs)

    tables = {
        "electricity/village_power.csv": (overrides.get("power", default_power()), None),
        "survey/village_signal.csv": (overrides.get("survey", default_survey()), None),
        "towers/cells.csv": (overrides.get("cells", default_cells()), CELL_HEADER),
        "towers/sites.csv": (overrides.get("sites", default_sites()), None),
    }
    for rel, (content, columns) in tables.items():
        if content is None:
            continue
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
            continue
        text = content if isinstance(content, str) else csv_text(content, sep, columns)
        if nfd:
            text = unicodedata.normalize("NFD", text)
        path.write_bytes(encode(text, encoding))

    toml = overrides.get("toml", DEFAULT_TOML)
    if toml is not None:
        (root / "dataset.toml").write_text(toml, encoding="utf-8")
    if overrides.get("dem", True):
        write_dem(root / "terrain" / "dem.tif")
    return root


@pytest.fixture
def make_dataset(tmp_path: Path) -> Callable[..., Path]:
    """Return ``make(root=None, **overrides) -> Path`` writing a synthetic dataset."""
    counter = iter(range(1000))

    def make(root: Path | None = None, **overrides: Any) -> Path:
        if root is None:
            n = next(counter)
            root = tmp_path / ("dataset" if n == 0 else f"dataset{n}")
        return write_dataset(root, **overrides)

    return make


@pytest.fixture
def dataset_dir(make_dataset: Callable[..., Path]) -> Path:
    """A default synthetic dataset folder."""
    return make_dataset()


@pytest.fixture(scope="session")
def shared_dataset_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default synthetic dataset, written once per session; tests must not change it."""
    return write_dataset(tmp_path_factory.mktemp("shared") / "dataset")


@pytest.fixture(scope="session")
def shared_analysis(shared_dataset_dir: Path) -> Any:
    """The default dataset analysed once per session (terrain model included).

    Expensive to build, so shared: tests read it and must not mutate it (a
    test that needs to change an analysis builds its own with ``analyse``).
    """
    from covgap.analysis import analyse

    return analyse(shared_dataset_dir)


@pytest.fixture(scope="session")
def open_inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Open-data inputs in their genuine formats (see tests/opendata_inputs.py), plus a
    scenario with a 4 km radius that keeps the prepared DEM small."""
    from opendata_inputs import write_inputs

    folder = tmp_path_factory.mktemp("open_inputs")
    inputs = write_inputs(folder)
    scenario = folder / "small.toml"
    scenario.write_text('name = "small"\nradius_m = 4000.0\n', encoding="utf-8")
    inputs["scenario"] = scenario
    inputs["folder"] = folder
    return inputs


@pytest.fixture(scope="session")
def prepared(open_inputs: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dataset folder built by ``covgap prepare`` from :func:`open_inputs`."""
    from covgap.cli import main

    out = tmp_path_factory.mktemp("prepared") / "dataset"
    i = open_inputs
    code = main(
        ["-q", "prepare", "--communes", str(i["communes"]), "--osm", str(i["osm"]),
         "--dem", str(i["dem"]), "--cells", str(i["cells"]), "--population", str(i["population"]),
         "--household-size", "4.5", "--scenario", str(i["scenario"]), "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    return out


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output folder of one serial ``covgap run`` of the demo, default options.

    Session-scoped: share it rather than running the demo again (read only).
    """
    from covgap.cli import main

    out = tmp_path_factory.mktemp("demo_run") / "out"
    assert main(["-q", "run", "--out", str(out)]) == 0
    return out
