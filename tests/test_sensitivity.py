"""Sensitivity of the modelled village status to the radio assumptions."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from covgap.analysis import analyse
from covgap.errors import ConfigError, CoverageError
from covgap.sensitivity import Variant, default_variants, sensitivity


@pytest.fixture
def analysis(shared_analysis):
    return shared_analysis


def test_default_variants_are_the_documented_ranges() -> None:
    values = {(v.parameter, v.value) for v in default_variants()}
    assert values == {
        ("threshold_dbm", -5.0),
        ("threshold_dbm", 5.0),
        ("k_factor", 1.0),
        ("k_factor", math.inf),
        ("receiver_height_m", 3.0),
        ("mast_height_m", -10.0),
        ("mast_height_m", 10.0),
    }


def test_a_threshold_no_signal_reaches_flips_every_covered_village(analysis) -> None:
    # +200 dB puts the threshold above any signal: every covered village becomes uncovered.
    result = sensitivity(analysis, [Variant("impossible", "threshold_dbm", 200.0 - 110.0)])
    table = result.villages
    covered = table["base_status"] == "covered"
    assert covered.any()
    assert (table.loc[covered, "status_impossible"] == "uncovered").all()
    assert table["status_uncertain"].tolist() == covered.tolist()
    assert result.uncertain == sorted(table.loc[covered, "village_code"])
    assert result.variants["flipped"].tolist() == [int(covered.sum())]
    assert all(f == ["impossible"] for f in table.loc[covered, "flips"])


def test_threshold_variants_reuse_the_base_signal(
    analysis, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_kernel(*args, **kwargs):
        raise AssertionError("the terrain kernel must not run for a threshold change")

    monkeypatch.setattr("covgap.radio.signal.compute_signal", no_kernel)
    result = sensitivity(analysis, [Variant("same", "threshold_dbm", 0.0)])
    assert not result.villages["status_uncertain"].any()
    assert (result.villages["status_same"] == result.villages["base_status"]).all()


def test_default_variants_run_and_mark_tables(analysis, tmp_path: Path) -> None:
    result = sensitivity(analysis)
    assert len(result.variants) == 7
    assert result.villages["n_flips"].tolist() == result.villages["flips"].map(len).tolist()
    marked = result.mark(analysis.gaps.villages)
    assert marked["status_uncertain"].dtype == bool
    assert set(marked.loc[marked["status_uncertain"], "village_code"]) == set(result.uncertain)
    assert "status_uncertain" not in analysis.gaps.villages.columns  # a copy
    path = result.export(tmp_path)
    header = path.read_text(encoding="utf-8-sig").splitlines()[0]
    assert header.startswith("village_code,village_name,commune_name")
    assert header.endswith("flips,n_flips,status_uncertain")
    assert "sensitivity" in result._repr_html_()


def test_bad_input(analysis, dataset_dir: Path) -> None:
    with pytest.raises(ConfigError, match="unknown parameter"):
        Variant("x", "frequency", 1.0)
    with pytest.raises(ConfigError, match="unique"):
        sensitivity(analysis, [Variant("a", "k_factor", 1.0), Variant("a", "k_factor", 2.0)])
    with pytest.raises(CoverageError, match="terrain model"):
        sensitivity(analyse(dataset_dir, model=False))
