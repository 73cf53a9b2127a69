"""Microwave backhaul needs 60 % of the first Fresnel zone clear, not bare line of sight."""

import math

import numpy as np
import pytest
from affine import Affine

from covgap.planning.costs import CostSettings, default_cost_settings
from covgap.radio.links import line_of_sight
from covgap.radio.pathloss import wavelength_m

CELL = 50.0
COLS = 220  # 11 km
FREQ_GHZ = 7.5


def terrain_with_wall(height: float):
    """Flat ground at 0 m with a 3-cell-thick wall across the path at its middle."""
    z = np.zeros((5, COLS), np.float32)
    z[:, 109:112] = height
    return z, Affine(CELL, 0.0, 0.0, 0.0, -CELL, 5 * CELL)


A = np.array([[0.5 * CELL + 10 * CELL, 2.5 * CELL]])
B = np.array([[A[0, 0] + 10_000.0, 2.5 * CELL]])
MAST = 30.0


def radius_at_middle() -> float:
    lam = wavelength_m(FREQ_GHZ * 1000.0)
    return math.sqrt(lam * 5000.0 * 5000.0 / 10_000.0)


def clear(height: float, **kw) -> bool:
    return bool(line_of_sight(terrain_with_wall(height), A, MAST, B, MAST, 0.0, **kw)[0, 0])


def test_fresnel_radius_of_the_setup():
    # 7.5 GHz: lambda = 4 cm; F1 at the middle of a 10 km hop = sqrt(0.04 * 2500) = 10 m
    assert radius_at_middle() == pytest.approx(9.99, abs=0.01)


def test_obstacle_inside_the_fresnel_zone_blocks_the_hop_but_not_the_sight_line():
    r = radius_at_middle()
    grazing = MAST - 0.5 * r  # 5 m under the sight line: inside 0.6 F1 (6 m)
    assert clear(grazing)  # bare line of sight
    assert not clear(grazing, frequency_ghz=FREQ_GHZ)
    # 0.3 F1 is enough clearance for it
    assert clear(grazing, frequency_ghz=FREQ_GHZ, fresnel_clearance=0.3)


def test_obstacle_below_sixty_percent_leaves_the_hop_clear():
    r = radius_at_middle()
    assert clear(MAST - 0.7 * r, frequency_ghz=FREQ_GHZ)
    assert not clear(MAST - 0.5 * r, frequency_ghz=FREQ_GHZ)
    # a higher band has a thinner zone: the same obstacle clears at 23 GHz
    assert clear(MAST - 0.5 * r, frequency_ghz=23.0)


def test_obstacle_above_the_sight_line_blocks_both():
    assert not clear(MAST + 1.0)
    assert not clear(MAST + 1.0, frequency_ghz=FREQ_GHZ)


def test_costs_defaults_carry_the_frequency_and_clearance_with_sources():
    costs = default_cost_settings()
    assert costs.microwave_frequency_ghz == 7.5
    assert costs.microwave_fresnel_clearance == 0.6
    assert "P.530" in costs.sources["microwave_fresnel_clearance"]
    assert "F.385" in costs.sources["microwave_frequency_ghz"]
    assert CostSettings().microwave_frequency_ghz == costs.microwave_frequency_ghz
