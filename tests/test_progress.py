"""Progress bars: silent unless asked; chunked kernels give the same results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from covgap import progress
from covgap.analysis import analyse
from covgap.planning.siteplan import plan_sites


def test_library_is_silent_unless_asked(capsys: pytest.CaptureFixture) -> None:
    assert not progress.is_enabled()
    for _ in progress.bar(range(3), desc="quiet"):
        pass
    assert capsys.readouterr().err == ""
    for _ in progress.bar(range(3), desc="loud", progress=True):
        pass
    assert "loud" in capsys.readouterr().err


def test_switch_and_context_manager() -> None:
    assert progress.resolve(None) is False
    with progress.enabled():
        assert progress.resolve(None) is True
        assert progress.resolve(False) is False
        assert progress.bar(total=2).disable is False
    assert progress.is_enabled() is False
    progress.enable()
    try:
        assert progress.resolve(None) is True
    finally:
        progress.enable(False)
    assert progress.bar(total=2).disable is True


def test_chunks_cover_the_range_once() -> None:
    assert progress.chunks(5, 2) == [slice(0, 2), slice(2, 4), slice(4, 5)]
    assert progress.chunks(0, 3) == []
    with pytest.raises(ValueError):
        progress.chunks(4, 0)


def test_chunked_terrain_model_equals_one_call(dataset_dir: Path) -> None:
    from covgap.radio.signal import compute_signal

    base = analyse(dataset_dir, progress=False)
    shown = analyse(dataset_dir, progress=True)
    assert len(base.dataset.sites) > 4
    np.testing.assert_array_equal(base.signal.rsrp, shown.signal.rsrp)
    assert base.reception.equals(shown.reception)
    assert base.warnings == shown.warnings
    # Sites one at a time, merged into the running best server, equal all at once.
    done: list[int] = []
    one_by_one = compute_signal(
        base.terrain, base.dataset.sites, base.scenario, chunk_sites=1, on_progress=done.append
    )
    at_once = compute_signal(base.terrain, base.dataset.sites, base.scenario, chunk_sites=99)
    assert done == [1] * len(base.dataset.sites)
    np.testing.assert_array_equal(one_by_one.rsrp, at_once.rsrp)
    np.testing.assert_array_equal(one_by_one.best_site, at_once.best_site)
    assert one_by_one.site_ids == at_once.site_ids


def test_chunked_candidate_coverage_equals_one_call(
    dataset_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    analysis = analyse(dataset_dir)
    one = plan_sites(analysis, k=2, signal_after=False, progress=False)
    monkeypatch.setattr("covgap.planning.siteplan.COVERAGE_CHUNK", 3)
    chunked = plan_sites(analysis, k=2, signal_after=False, progress=True)
    assert len(one.candidates) > 3
    assert (one.problem.coverage != chunked.problem.coverage).nnz == 0
    assert list(one.plan["site_id"]) == list(chunked.plan["site_id"])
