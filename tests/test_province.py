"""The province preset, on a scaled-down variant through the same code path.

``covgap demo --preset province`` generates all 130 communes on a 30 m DEM
(about two minutes); these tests generate three communes of Tủa Chùa on a
150 m DEM with :func:`covgap.demo.province.generate_province`, the function
the command calls, and check the tables against the census facts.
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from covgap.demo import province_facts as pf
from covgap.demo.province import generate_province, province_communes

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "census2009"
CENSUS = SHARED / "census2009_communes_dien_bien.csv"
SUBSET = ("DB-3021303", "DB-3021305", "DB-3021307")
CELL_M = 150.0


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def subset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_province(
        tmp_path_factory.mktemp("province") / "a", communes=SUBSET, cell_m=CELL_M
    )


def test_table_has_the_130_communes_with_unique_codes():
    communes = province_communes()
    assert len(communes) == 130
    assert len({c.code for c in communes}) == 130
    assert len({c.name for c in communes}) == 130
    # communes created after 2009 have no census figure but a modelled population
    missing = [c for c in communes if c.census_population is None]
    assert len(missing) == 15
    assert all(c.population > 0 for c in communes)
    assert sum(c.area_km2 for c in communes) == pytest.approx(pf.PROVINCE_AREA_KM2, abs=1.0)


@pytest.mark.shared
@pytest.mark.skipif(not CENSUS.exists(), reason="../shared census data absent")
def test_table_matches_the_census_names_and_populations():
    with CENSUS.open(encoding="utf-8") as f:
        rows = {f"DB-{int(float(r['commune_id']))}": r for r in csv.DictReader(f)}
    for c in province_communes():
        row = rows[c.code]
        assert c.name == row["commune_vn"]
        assert c.district == row["district_vn"]
        census = int(float(row["population"]))
        assert c.census_population == (census if census > 0 else None)


def test_unknown_commune_code_is_refused():
    from covgap.errors import DemoError

    with pytest.raises(DemoError, match="DB-1"):
        province_communes(["DB-1"])


def test_subset_is_deterministic(subset, tmp_path):
    again = generate_province(tmp_path / "b", communes=SUBSET, cell_m=CELL_M)
    assert _digest(subset) == _digest(again)


def test_subset_loads_and_has_every_layer(subset):
    from covgap.data.dataset import load_dataset

    ds = load_dataset(subset)
    assert ds.synthetic
    assert sorted(ds.communes["commune_code"]) == sorted(SUBSET)
    facts = {c.code: c for c in province_communes(SUBSET)}
    for code, name, pop in zip(
        ds.communes["commune_code"], ds.communes["commune_name"], ds.communes["population"],
        strict=True,
    ):  # fmt: skip
        assert name == facts[code].name
        assert pop == facts[code].census_population
    # every commune has villages, every village settlements, households add up
    assert set(ds.villages["commune_code"]) == set(SUBSET)
    assert ds.villages.groupby("commune_code").size().min() >= 2
    hh = ds.settlements.groupby("village_code")["households"].sum()
    assert (hh.reindex(ds.villages["village_code"]).to_numpy() == ds.villages["households"]).all()
    # the three operators, the grid, the survey for every village, the listed candidates
    assert set(ds.sites["operator"]) == {"Viettel", "VinaPhone", "MobiFone"}  # VNPT's brand
    assert len(ds.sites) >= 3
    assert ds.grid is not None and len(ds.grid) > 0
    assert ds.survey is not None and len(ds.survey) == len(ds.villages)
    assert ds.missing_status == {"power": [], "survey": []} or not any(ds.missing_status.values())
    with (subset / "towers" / "sites_candidates.csv").open(encoding="utf-8-sig") as f:
        candidates = list(csv.DictReader(f))
    share = sum(facts[c].area_km2 for c in SUBSET) / pf.PROVINCE_AREA_KM2
    assert len(candidates) == round(pf.N_CANDIDATES * share)
    assert {r["operator"] for r in candidates} <= {"", "Viettel", "VNPT", "MobiFone"}


def test_subset_dem_covers_the_communes_plus_the_radius(subset):
    import rasterio

    from covgap.data.dataset import load_dataset

    ds = load_dataset(subset)
    with rasterio.open(subset / "terrain" / "dem.tif") as src:
        assert src.res == (CELL_M, CELL_M)
        left, bottom, right, top = src.bounds
    minx, miny, maxx, maxy = ds.communes.to_crs(32648).total_bounds
    assert left <= minx - pf.DEM_BUFFER_M + CELL_M and right >= maxx + pf.DEM_BUFFER_M - CELL_M
    assert bottom <= miny - pf.DEM_BUFFER_M + CELL_M and top >= maxy + pf.DEM_BUFFER_M - CELL_M


def test_subset_metadata_records_the_counts(subset):
    import tomllib

    meta = tomllib.loads((subset / "dataset.toml").read_text(encoding="utf-8"))
    demo = meta["demo"]
    assert demo["preset"] == "province"
    assert demo["communes"] == len(SUBSET)
    with (subset / "survey" / "village_signal.csv").open(encoding="utf-8-sig") as f:
        survey = list(csv.DictReader(f))
    assert demo["villages"] == len(survey)
    assert demo["uncovered"] == sum(r["mobile_signal"] == "không" for r in survey)
    features = json.loads((subset / "boundaries" / "villages.geojson").read_text("utf-8"))
    assert len(features["features"]) == demo["villages"]
    assert np.isfinite(demo["dem_cell_m"])


def test_cli_preset_choices_are_listed():
    from covgap.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["demo", "--out", "x", "--preset", "province"])
    assert args.preset == "province"
    assert parser.parse_args(["demo", "--out", "x"]).preset == "district"
    with pytest.raises(SystemExit):
        parser.parse_args(["demo", "--out", "x", "--preset", "country"])


def test_cli_province_preset_calls_the_province_generator(tmp_path, monkeypatch, capsys):
    import covgap.demo.province as province
    from covgap.cli import main

    calls = []
    monkeypatch.setattr(province, "generate_province", lambda out: calls.append(out) or out)
    assert main(["demo", "--preset", "province", "--out", str(tmp_path / "p")]) == 0
    assert calls == [tmp_path / "p"]
    assert "Điện Biên province" in capsys.readouterr().out
