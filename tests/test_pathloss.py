"""Path-loss formulas against values worked by hand from the textbook equations.

Each expected value is written twice: as the equation evaluated term by term
(so a reader can follow it) and as the rounded number that arithmetic gives,
so a wrong constant in either the code or the expression is caught.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from covgap.radio import pathloss as pl
from covgap.radio.pathloss import (
    ENV_OPEN,
    ENV_SUBURBAN,
    ENV_URBAN,
    MODEL_AUTO,
    MODEL_FREE_SPACE,
    MODEL_HATA,
)

log = math.log10
C = 299_792_458.0


# -- free space ---------------------------------------------------------------


def test_free_space_constant_is_not_truncated():
    # 20 log10(4 pi / c) with d in km (1e3) and f in MHz (1e6)
    constant = pl.FREE_SPACE_CONSTANT_DB
    assert constant == pytest.approx(20 * log(4 * math.pi * 1e3 * 1e6 / C))
    assert constant == pytest.approx(32.4478, abs=1e-4)
    assert round(constant, 2) == 32.45  # not the truncated 32.44


def test_free_space_1km_900mhz():
    # 20 log10(1) + 20 log10(900) + 32.4478 = 0 + 59.0849 + 32.4478
    expected = 20 * log(1.0) + 20 * log(900.0) + 32.4478
    assert expected == pytest.approx(91.5326, abs=1e-3)
    assert pl.free_space_loss_db(1000.0, 900.0) == pytest.approx(91.5326, abs=1e-3)


def test_free_space_equals_friis_in_metres():
    d, f = 7321.0, 1800.0
    lam = C / (f * 1e6)
    assert pl.free_space_loss_db(d, f) == pytest.approx(20 * log(4 * math.pi * d / lam), abs=1e-9)


def test_free_space_doubling_distance_adds_6db():
    assert pl.free_space_loss_db(2000.0, 900.0) - pl.free_space_loss_db(
        1000.0, 900.0
    ) == pytest.approx(20 * log(2), abs=1e-9)


def test_free_space_clamps_zero_distance():
    assert pl.free_space_loss_db(0.0, 900.0) == pl.free_space_loss_db(pl.MIN_DISTANCE_M, 900.0)
    assert math.isfinite(pl.free_space_loss_db(0.0, 900.0))


def test_wavelength():
    assert pl.wavelength_m(900.0) == pytest.approx(0.333103, abs=1e-6)
    assert pl.wavelength_m(299.792458) == pytest.approx(1.0)


# -- Okumura-Hata ---------------------------------------------------------------


def _a_hm(f: float, hm: float) -> float:
    return (1.1 * log(f) - 0.7) * hm - (1.56 * log(f) - 0.8)


def test_hata_urban_900mhz_hb30_hm15_5km():
    # log f = 2.954243, log hb = 1.477121, log d = 0.698970
    # a(1.5) = (3.249667 - 0.7) * 1.5 - (4.608619 - 0.8) = 0.015882
    # L = 69.55 + 77.28300 - 20.41382 - 0.01588 + 35.22486 * 0.69897 = 151.0244
    f, hb, hm, d = 900.0, 30.0, 1.5, 5.0
    expected = (
        69.55 + 26.16 * log(f) - 13.82 * log(hb) - _a_hm(f, hm) + (44.9 - 6.55 * log(hb)) * log(d)
    )
    assert _a_hm(f, hm) == pytest.approx(0.015882, abs=1e-5)
    assert expected == pytest.approx(151.0244, abs=1e-3)
    assert pl.hata_loss_db(5000.0, f, hb, hm, ENV_URBAN) == pytest.approx(151.0244, abs=1e-3)


def test_hata_suburban_900mhz():
    # correction 2 (log(900/28))^2 + 5.4 = 2 * 1.507084^2 + 5.4 = 9.942604
    correction = 2 * log(900.0 / 28.0) ** 2 + 5.4
    assert correction == pytest.approx(9.9426, abs=1e-3)
    got = pl.hata_loss_db(5000.0, 900.0, 30.0, 1.5, ENV_SUBURBAN)
    assert got == pytest.approx(151.0244 - 9.9426, abs=1e-3)


def test_hata_open_900mhz():
    # correction 4.78 (log f)^2 - 18.33 log f + 40.94 = 41.71770 - 54.15127 + 40.94 = 28.50643
    correction = 4.78 * log(900.0) ** 2 - 18.33 * log(900.0) + 40.94
    assert correction == pytest.approx(28.5064, abs=1e-3)
    got = pl.hata_loss_db(5000.0, 900.0, 30.0, 1.5, ENV_OPEN)
    assert got == pytest.approx(151.0244 - 28.5064, abs=1e-3)
    assert got == pytest.approx(122.518, abs=1e-3)


def test_cost231_urban_1800mhz_medium_city():
    # log f = 3.255273; a(1.5) = (3.580800 - 0.7) * 1.5 - (5.078226 - 0.8) = 0.042974
    # L = 46.3 + 33.9 * 3.255273 - 20.41382 - 0.04297 + 24.62111 + Cm(0) = 160.8181
    f, hb, hm, d = 1800.0, 30.0, 1.5, 5.0
    expected = (
        46.3
        + 33.9 * log(f)
        - 13.82 * log(hb)
        - _a_hm(f, hm)
        + (44.9 - 6.55 * log(hb)) * log(d)
        + 0.0
    )
    assert expected == pytest.approx(160.8181, abs=1e-3)
    assert pl.hata_loss_db(5000.0, f, hb, hm, ENV_URBAN) == pytest.approx(160.8181, abs=1e-3)


def test_cost231_open_uses_hata_open_correction():
    correction = 4.78 * log(1800.0) ** 2 - 18.33 * log(1800.0) + 40.94
    got = pl.hata_loss_db(5000.0, 1800.0, 30.0, 1.5, ENV_OPEN)
    assert got == pytest.approx(160.8181 - correction, abs=1e-3)


def test_hata_switches_to_cost231_above_1500mhz():
    at_1500 = pl.hata_loss_db(5000.0, 1500.0, 30.0, 1.5, ENV_URBAN)
    assert at_1500 == pytest.approx(
        69.55
        + 26.16 * log(1500)
        - 13.82 * log(30)
        - _a_hm(1500, 1.5)
        + (44.9 - 6.55 * log(30)) * log(5),
        abs=1e-9,
    )
    just_above = pl.hata_loss_db(5000.0, 1500.001, 30.0, 1.5, ENV_URBAN)
    assert just_above == pytest.approx(
        46.3
        + 33.9 * log(1500.001)
        - 13.82 * log(30)
        - _a_hm(1500.001, 1.5)
        + (44.9 - 6.55 * log(30)) * log(5),
        abs=1e-9,
    )
    # the two fits differ by 1.33 dB at the seam (a property of the published models)
    assert just_above - at_1500 == pytest.approx(1.333, abs=1e-3)


def test_hata_higher_mast_lowers_loss():
    low = pl.hata_loss_db(8000.0, 900.0, 30.0, 1.5, ENV_OPEN)
    high = pl.hata_loss_db(8000.0, 900.0, 60.0, 1.5, ENV_OPEN)
    assert high < low


@given(
    d=st.floats(100.0, 30_000.0),
    f=st.floats(150.0, 2000.0),
    hb=st.floats(10.0, 200.0),
    env=st.sampled_from([ENV_OPEN, ENV_SUBURBAN, ENV_URBAN]),
)
def test_median_loss_never_below_free_space_and_grows_with_distance(d, f, hb, env):
    loss = pl.median_loss_db(d, f, hb, 1.5, MODEL_AUTO, env)
    assert loss >= pl.free_space_loss_db(d, f) - 1e-9
    assert pl.median_loss_db(d * 1.5, f, hb, 1.5, MODEL_AUTO, env) >= loss - 1e-9


def test_median_loss_models():
    args = (5000.0, 900.0, 30.0, 1.5)
    assert pl.median_loss_db(*args, MODEL_FREE_SPACE, ENV_OPEN) == pytest.approx(
        pl.free_space_loss_db(5000.0, 900.0)
    )
    assert pl.median_loss_db(*args, MODEL_AUTO, ENV_OPEN) == pytest.approx(122.518, abs=1e-3)
    assert pl.median_loss_db(*args, MODEL_HATA, ENV_URBAN) == pytest.approx(151.0244, abs=1e-3)


def test_median_loss_near_tower_is_free_space():
    # Open-area Hata at 100 m, 900 MHz extrapolates below free space:
    # 122.518 - 35.2249 * (log 5 - log 0.1) = 62.67 < free space 71.53
    hata = pl.hata_loss_db(100.0, 900.0, 30.0, 1.5, ENV_OPEN)
    assert hata == pytest.approx(122.518 - 35.22486 * (log(5) - log(0.1)), abs=1e-3)
    free = pl.free_space_loss_db(100.0, 900.0)
    assert hata < free
    assert pl.median_loss_db(100.0, 900.0, 30.0, 1.5, MODEL_AUTO, ENV_OPEN) == free


def test_median_loss_callable_from_numba():
    from numba import njit

    @njit
    def total(d):
        return pl.median_loss_db(d, 900.0, 30.0, 1.5, 0, 0) + pl.knife_edge_loss_db(0.0)

    assert total(5000.0) == pytest.approx(122.518 + 6.0329, abs=1e-3)


# -- knife edge -----------------------------------------------------------------


def test_fresnel_nu():
    # nu = h sqrt(2 (d1 + d2) / (lambda d1 d2)) = 10 sqrt(2 * 2000 / (1 * 1000 * 1000)) = 0.63246
    assert pl.fresnel_nu(10.0, 1000.0, 1000.0, 1.0) == pytest.approx(10 * math.sqrt(0.004))
    assert pl.fresnel_nu(10.0, 1000.0, 1000.0, 1.0) == pytest.approx(0.632456, abs=1e-6)
    assert pl.fresnel_nu(-10.0, 1000.0, 1000.0, 1.0) == pytest.approx(-0.632456, abs=1e-6)


def test_knife_edge_j0():
    # J(0) = 6.9 + 20 log10(sqrt(0.01 + 1) - 0.1) = 6.9 + 20 log10(0.904988) = 6.0327
    assert pl.knife_edge_loss_db(0.0) == pytest.approx(6.9 + 20 * log(math.sqrt(1.01) - 0.1))
    assert pl.knife_edge_loss_db(0.0) == pytest.approx(6.03, abs=0.01)


def test_knife_edge_j1():
    # J(1) = 6.9 + 20 log10(sqrt(0.81 + 1) + 0.9) = 6.9 + 20 * 0.351286 = 13.9257
    assert pl.knife_edge_loss_db(1.0) == pytest.approx(13.9257, abs=1e-3)


def test_knife_edge_at_and_below_minus_078_is_zero():
    assert pl.knife_edge_loss_db(-0.78) == 0.0
    assert pl.knife_edge_loss_db(-3.0) == 0.0
    # just above the cut the formula is ~0 (continuous): 6.9 + 20 log10(sqrt(0.88^2+1) - 0.88)
    assert pl.knife_edge_loss_db(-0.7799) == pytest.approx(0.0, abs=0.01)
    assert math.isnan(pl.knife_edge_loss_db(math.nan))


def test_knife_edge_grows_with_nu():
    nus = np.linspace(-0.7, 5.0, 50)
    losses = [pl.knife_edge_loss_db(float(v)) for v in nus]
    assert all(b > a for a, b in itertools.pairwise(losses))


# -- profiles -------------------------------------------------------------------


def _j(nu: float) -> float:
    if nu <= -0.78:
        return 0.0
    return 6.9 + 20 * log(math.sqrt((nu - 0.1) ** 2 + 1) + nu - 0.1)


def test_deygout_single_edge_flat_earth():
    # 10 km path, tx and rx 30 m, one 100 m edge at 5 km: h = 70 m above the sight line
    # nu = 70 sqrt(2 * 10000 / (lambda * 5000 * 5000)) with lambda = c / 900 MHz -> 3.4305
    d = np.linspace(0.0, 10_000.0, 101)
    z = np.zeros(101)
    z[50] = 100.0
    lam = pl.wavelength_m(900.0)
    nu = 70 * math.sqrt(2 * 10_000 / (lam * 5000 * 5000))
    assert nu == pytest.approx(3.4305, abs=1e-3)
    expected = _j(nu)
    assert expected == pytest.approx(23.56, abs=0.01)
    assert pl.deygout_loss_db(d, z, 30.0, 30.0, lam, 0.0) == pytest.approx(expected, abs=1e-9)
    assert pl.dominant_edge_loss_db(d, z, 30.0, 30.0, lam, 0.0) == pytest.approx(expected)


def test_deygout_three_edges():
    # edges 60 m at 2 km and 8 km, 100 m at 5 km; antennas 10 m; lambda 1 m; flat earth.
    # main: 5 km, h = 90, nu = 90 sqrt(2 * 10000 / (5000 * 5000)) = 2.54558
    #   (the 2 km edge: h = 50, nu = 50 sqrt(20000 / (2000 * 8000)) = 1.76777, smaller)
    # tx side: line 10 -> 100 over 0..5 km, at 2 km 46 m; h = 14, d1 = 2000, d2 = 3000:
    #   nu = 14 sqrt(2 * 5000 / (2000 * 3000)) = 0.571548; rx side the same by symmetry.
    d = np.arange(0.0, 10_001.0, 1000.0)
    z = np.zeros(11)
    z[2], z[5], z[8] = 60.0, 100.0, 60.0
    nu_main = 90 * math.sqrt(2 * 10_000 / (5000 * 5000))
    nu_side = 14 * math.sqrt(2 * 5000 / (2000 * 3000))
    assert nu_main == pytest.approx(2.54558, abs=1e-5)
    assert nu_side == pytest.approx(0.571548, abs=1e-6)
    expected = _j(nu_main) + 2 * _j(nu_side)
    assert pl.deygout_loss_db(d, z, 10.0, 10.0, 1.0, 0.0) == pytest.approx(expected, abs=1e-9)
    # the dominant-edge method keeps only the main edge
    assert pl.dominant_edge_loss_db(d, z, 10.0, 10.0, 1.0, 0.0) == pytest.approx(_j(nu_main))


def test_deygout_clear_path_is_zero():
    d = np.linspace(0.0, 5000.0, 51)
    z = np.zeros(51)
    assert pl.deygout_loss_db(d, z, 30.0, 30.0, 0.333, 0.0) == 0.0


def test_deygout_curvature_equals_explicit_bulge():
    # cc d^2 / 12 740 000 from the tx frame = cc d1 d2 / 12 740 000 bulge above the chord
    d = np.linspace(0.0, 40_000.0, 201)
    z = np.zeros(201)
    z[100] = 20.0
    cc = 0.75
    bulged = z + cc * d * (d[-1] - d) / 12_740_000.0
    curved = pl.deygout_loss_db(d, z, 30.0, 1.5, 0.333, cc)
    flat = pl.deygout_loss_db(d, bulged, 30.0, 1.5, 0.333, 0.0)
    assert curved == pytest.approx(flat, abs=1e-9)
    assert curved > pl.deygout_loss_db(d, z, 30.0, 1.5, 0.333, 0.0)


def test_earth_bulge_matches_gdal_convention():
    # GDAL: corrected height = h - cc d^2 / 12 740 000; 10 km, cc 0.75 -> 5.887 m
    assert pl.earth_bulge_m(10_000.0, 0.75) == pytest.approx(0.75 * 1e8 / 12_740_000.0)
    assert pl.earth_bulge_m(10_000.0, 0.75) == pytest.approx(5.887, abs=1e-3)


def test_deygout_unknown_terrain_is_nan():
    d = np.linspace(0.0, 5000.0, 11)
    z = np.zeros(11)
    z[4] = np.nan
    assert math.isnan(pl.deygout_loss_db(d, z, 30.0, 1.5, 0.333, 0.75))
    assert math.isnan(pl.dominant_edge_loss_db(d, z, 30.0, 1.5, 0.333, 0.75))


def test_deygout_short_profile_is_zero():
    assert pl.deygout_loss_db(np.array([0.0, 30.0]), np.zeros(2), 30.0, 1.5, 0.333, 0.75) == 0.0


# -- validity -------------------------------------------------------------------


def test_validity_warnings():
    assert pl.validity_warnings(900.0, 30.0, 1.5, 15_000.0) == []
    msgs = pl.validity_warnings(2100.0, 20.0, 1.5, 25_000.0)
    assert len(msgs) == 3
    assert any("2000 MHz" in m for m in msgs)
    assert any("30 m" in m for m in msgs)
    assert any("20 km" in m for m in msgs)
    assert pl.validity_warnings(100.0, 20.0, 0.5, 25_000.0, MODEL_FREE_SPACE) == []


def test_deygout_adds_no_side_edges_on_flat_ground() -> None:
    # Flat ground, 30 m mast to a 1.5 m handset 2.4 km away, no curvature:
    # the ground point next to the handset grazes the path (nu just above
    # -0.78) but does not block it, so only its own J(nu) counts (< 1 dB),
    # never the ~10 dB that side edges measured from the ground would add.
    d = np.linspace(0.0, 2400.0, 241)
    z = np.zeros_like(d)
    lam = pl.wavelength_m(900.0)
    loss = pl.deygout_loss_db(d, z, 30.0, 1.5, lam, 0.0)
    assert loss == pytest.approx(pl.dominant_edge_loss_db(d, z, 30.0, 1.5, lam, 0.0))
    assert 0.0 < loss < 1.0
