"""Cost of a candidate tower site: tower, equipment, power and backhaul.

The figures live in the package file ``covgap/scenarios/costs.toml``, each
with its source in that file's ``[sources]`` table; ``docs/costs.md`` gives
the derivations.  All money is in Vietnamese dong (VND) at the file's price
level; USD is shown with the file's exchange rate.

A user's cost file is a TOML table with any of the :class:`CostSettings`
field names, plus an optional ``[sources]`` table documenting the changed
values::

    mv_line_vnd_per_km = 1_300_000_000
    [sources]
    mv_line_vnd_per_km = "PC Điện Biên estimate, 2025"

Costs compared between options are *lifetime* costs: capex plus the present
value of the yearly costs over ``evaluation_years`` at ``discount_rate``
(see :meth:`CostSettings.annuity_factor`).  Yearly costs shared by every site
(rent, maintenance of the radio) are left out, as they do not change a choice.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS

from covgap.errors import ConfigError, CRSError, DatasetError
from covgap.settings import check_keys, check_number, read_toml

__all__ = [
    "BACKHAUL_OPTIONS",
    "POWER_OPTIONS",
    "BackhaulOption",
    "CostSettings",
    "PowerOption",
    "backhaul_cost",
    "default_cost_settings",
    "distance_to_lines",
    "load_cost_settings",
    "power_cost",
    "site_cost",
]

logger = logging.getLogger(__name__)

#: Power option labels.
POWER_OPTIONS: tuple[str, ...] = ("grid", "solar")
#: Backhaul option labels, in the order they are tried.
BACKHAUL_OPTIONS: tuple[str, ...] = ("microwave", "fibre", "satellite")

# unit of each numeric field, for the assumptions sheet
_UNITS: dict[str, str] = {
    "price_year": "year",
    "tower_capex_vnd": "VND per site",
    "equipment_capex_vnd": "VND per site",
    "grid_connection_fixed_vnd": "VND per connection",
    "mv_line_vnd_per_km": "VND/km",
    "transformer_vnd": "VND per station",
    "terrain_factor": "multiplier on steep share",
    "grid_energy_vnd_per_year": "VND/year",
    "solar_system_vnd": "VND per site",
    "solar_opex_vnd_per_year": "VND/year",
    "microwave_link_vnd": "VND per hop",
    "microwave_max_km": "km",
    "microwave_frequency_ghz": "GHz",
    "microwave_fresnel_clearance": "share of the first Fresnel zone radius",
    "fibre_vnd_per_km": "VND/km",
    "fibre_max_km": "km",
    "satellite_capex_vnd": "VND per site",
    "satellite_opex_vnd_per_year": "VND/year",
    "evaluation_years": "years",
    "discount_rate": "per year",
    "vnd_per_usd": "VND per USD",
    "exchange_rate_date": "date",
}

# (low, high, low inclusive, high inclusive)
_MONEY = (0.0, math.inf, True, False)
_RANGES: dict[str, tuple[float, float, bool, bool]] = {
    "price_year": (2000.0, 2100.0, True, True),
    "tower_capex_vnd": _MONEY,
    "equipment_capex_vnd": _MONEY,
    "grid_connection_fixed_vnd": _MONEY,
    "mv_line_vnd_per_km": _MONEY,
    "transformer_vnd": _MONEY,
    "terrain_factor": (1.0, 10.0, True, True),
    "grid_energy_vnd_per_year": _MONEY,
    "solar_system_vnd": _MONEY,
    "solar_opex_vnd_per_year": _MONEY,
    "microwave_link_vnd": _MONEY,
    "microwave_max_km": (0.0, 200.0, True, True),
    "microwave_frequency_ghz": (1.0, 100.0, True, True),
    "microwave_fresnel_clearance": (0.0, 2.0, True, True),
    "fibre_vnd_per_km": _MONEY,
    "fibre_max_km": (0.0, 1000.0, True, True),
    "satellite_capex_vnd": _MONEY,
    "satellite_opex_vnd_per_year": _MONEY,
    "evaluation_years": (1.0, 100.0, True, True),
    "discount_rate": (0.0, 1.0, True, False),
    "vnd_per_usd": (0.0, math.inf, False, False),
}
_INTEGERS = frozenset({"price_year", "evaluation_years"})
_DATE = re.compile(r"^\d{4}-\d{2}(-\d{2})?$")


@dataclass(frozen=True)
class CostSettings:
    """Cost figures of a new site, in VND (see ``scenarios/costs.toml``).

    Attributes
    ----------
    price_year
        Price level of the figures.
    tower_capex_vnd
        Tower, foundation, fence, cabinet and installation, VND per site.
    equipment_capex_vnd
        4G radio equipment installed, VND per site.
    grid_connection_fixed_vnd
        Fixed part of a medium-voltage connection, VND.
    mv_line_vnd_per_km
        35 kV overhead line, VND/km (calibrated on the Sín Chải project).
    transformer_vnd
        One 35/0.4 kV pole-mounted station, VND.
    terrain_factor
        Line-cost multiplier on steep ground (>= 1).
    grid_energy_vnd_per_year
        Electricity bill of a grid-fed site, VND/year.
    solar_system_vnd
        Off-grid PV + battery system for the site's load, VND.
    solar_opex_vnd_per_year
        Upkeep and battery reserve of the solar system, VND/year.
    microwave_link_vnd
        One microwave hop (both ends), VND.
    microwave_max_km
        Longest microwave hop, km.
    microwave_frequency_ghz
        Frequency of the microwave hops, GHz (sets the Fresnel zone's size).
    microwave_fresnel_clearance
        Share of the first Fresnel zone's radius the terrain must leave
        clear along a hop (0.6; 0 = bare line of sight).
    fibre_vnd_per_km
        Fibre build in mountain terrain, VND/km.
    fibre_max_km
        Farthest fibre point considered, km.
    satellite_capex_vnd
        VSAT terminal installed, VND.
    satellite_opex_vnd_per_year
        Satellite capacity, VND/year.
    evaluation_years
        Years over which yearly costs count.
    discount_rate
        Yearly discount rate of yearly costs (0 = plain sum).
    vnd_per_usd
        Exchange rate, VND per USD.
    exchange_rate_date
        ``YYYY-MM`` or ``YYYY-MM-DD`` of the exchange rate.
    sources
        Source of each value, by field name (read-only mapping).
    """

    price_year: int = 2024
    tower_capex_vnd: float = 1_000_000_000.0
    equipment_capex_vnd: float = 700_000_000.0
    grid_connection_fixed_vnd: float = 150_000_000.0
    mv_line_vnd_per_km: float = 1_100_000_000.0
    transformer_vnd: float = 400_000_000.0
    terrain_factor: float = 1.5
    grid_energy_vnd_per_year: float = 30_500_000.0
    solar_system_vnd: float = 950_000_000.0
    solar_opex_vnd_per_year: float = 40_000_000.0
    microwave_link_vnd: float = 300_000_000.0
    microwave_max_km: float = 25.0
    microwave_frequency_ghz: float = 7.5
    microwave_fresnel_clearance: float = 0.6
    fibre_vnd_per_km: float = 120_000_000.0
    fibre_max_km: float = 15.0
    satellite_capex_vnd: float = 300_000_000.0
    satellite_opex_vnd_per_year: float = 240_000_000.0
    evaluation_years: int = 10
    discount_rate: float = 0.08
    vnd_per_usd: float = 25_400.0
    exchange_rate_date: str = "2025-01"
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        values = {k: getattr(self, k) for k in _VALUE_FIELDS}
        for key, value in _validated(values, "cost settings").items():
            object.__setattr__(self, key, value)
        sources = dict(self.sources)
        _check_keys(sources, "cost settings [sources]")
        for key, text in sources.items():
            if not isinstance(text, str):
                raise ConfigError(f"cost settings [sources]: key {key!r}: expected a string")
        object.__setattr__(self, "sources", MappingProxyType(sources))

    # -- derived values -------------------------------------------------
    def annuity_factor(self) -> float:
        """Present value of 1 VND a year for ``evaluation_years`` years.

        ``sum(1 / (1 + r)**t for t in 1..N)``; equals N when the discount
        rate r is 0.
        """
        r, n = self.discount_rate, self.evaluation_years
        if r == 0.0:
            return float(n)
        return float((1.0 - (1.0 + r) ** -n) / r)

    def to_usd(self, vnd: Any) -> Any:
        """Convert VND (scalar or array) to USD with :attr:`vnd_per_usd`."""
        return np.asarray(vnd, dtype=np.float64) / self.vnd_per_usd

    def with_overrides(self, **changes: Any) -> CostSettings:
        """Return a copy with some fields changed (validated like a file).

        Sources of changed values become ``"override"`` unless ``sources``
        is among the changes.

        Raises
        ------
        ConfigError
            On an unknown field or a bad value.
        """
        _check_keys(changes, "overrides", allow_sources=True)
        sources = dict(self.sources)
        for key in changes:
            if key != "sources":
                sources[key] = "override"
        sources.update(changes.pop("sources", {}))
        return dataclasses.replace(self, **changes, sources=sources)

    def assumptions(self) -> list[dict[str, Any]]:
        """Rows ``key, value, unit, source`` of every setting, for the XLSX sheet.

        Two derived rows follow: the annuity factor and the grid/solar
        break-even distance on ordinary ground.
        """
        rows = [
            {
                "key": key,
                "value": getattr(self, key),
                "unit": _UNITS[key],
                "source": self.sources.get(key, "covgap default (see docs/costs.md)"),
            }
            for key in _VALUE_FIELDS
        ]
        rows.append(
            {
                "key": "annuity_factor",
                "value": round(self.annuity_factor(), 6),
                "unit": "years (present value)",
                "source": "Derived: sum of 1/(1+discount_rate)^t for t = 1..evaluation_years.",
            }
        )
        rows.append(
            {
                "key": "grid_solar_break_even_km",
                "value": round(self.break_even_km(), 3),
                "unit": "km",
                "source": "Derived: distance to the 35 kV grid at which grid extension and "
                "off-grid solar have the same lifetime cost (ordinary ground).",
            }
        )
        return rows

    def break_even_km(self, steep_share: float = 0.0) -> float:
        """Distance to the grid (km) where grid and solar cost the same; may be negative."""
        a = self.annuity_factor()
        solar = self.solar_system_vnd + a * self.solar_opex_vnd_per_year
        grid_fixed = (
            self.grid_connection_fixed_vnd
            + self.transformer_vnd
            + a * self.grid_energy_vnd_per_year
        )
        per_km = self.mv_line_vnd_per_km * (1.0 + (self.terrain_factor - 1.0) * steep_share)
        if per_km == 0.0:
            return math.inf if solar >= grid_fixed else -math.inf
        return (solar - grid_fixed) / per_km


_VALUE_FIELDS: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(CostSettings) if f.name != "sources"
)


def _check_keys(mapping: Mapping[str, Any], source: str, *, allow_sources: bool = False) -> None:
    check_keys(mapping, [*_VALUE_FIELDS, *(["sources"] if allow_sources else [])], source)


def _validated(values: Mapping[str, Any], source: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        where = f"{source}: key {key!r}"
        if key == "exchange_rate_date":
            if not isinstance(value, str) or not _DATE.match(value.strip()):
                raise ConfigError(
                    f"{where}: expected a date as YYYY-MM or YYYY-MM-DD, got {value!r}"
                )
            out[key] = value.strip()
            continue
        number = check_number(value, _RANGES[key], where)
        if key in _INTEGERS:
            if not number.is_integer():
                raise ConfigError(f"{where}: expected a whole number, got {value!r}")
            out[key] = int(number)
        else:
            out[key] = number
    return out


def _read_toml(path: Path) -> dict[str, Any]:
    return read_toml(path, what="cost file")


def _from_mapping(data: Mapping[str, Any], base: CostSettings | None, source: str) -> CostSettings:
    data = dict(data)
    data.pop("joint", None)  # the joint plan's table, read by covgap.planning.joint
    sources = data.pop("sources", {})
    if not isinstance(sources, Mapping):
        raise ConfigError(f"{source}: 'sources' must be a table of key = \"text\"")
    _check_keys(data, source)
    _check_keys(sources, f"{source} [sources]")
    values: dict[str, Any] = (
        {k: getattr(base, k) for k in _VALUE_FIELDS} if base is not None else {}
    )
    merged_sources = dict(base.sources) if base is not None else {}
    for key in data:
        merged_sources[key] = f"set in {source}"
    merged_sources.update(sources)
    values.update(_validated(data, source))
    try:
        return CostSettings(**values, sources=merged_sources)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


_DEFAULT: CostSettings | None = None


def default_cost_settings() -> CostSettings:
    """Return the settings of the packaged ``scenarios/costs.toml`` (cached)."""
    global _DEFAULT
    if _DEFAULT is None:
        resource = importlib.resources.files("covgap") / "scenarios" / "costs.toml"
        with importlib.resources.as_file(resource) as path:
            _DEFAULT = _from_mapping(_read_toml(Path(path)), None, "covgap costs.toml")
    return _DEFAULT


def load_cost_settings(path: str | Path | None = None) -> CostSettings:
    """Read cost settings; keys left out keep the packaged defaults.

    Parameters
    ----------
    path
        A ``.toml`` file of :class:`CostSettings` field names and an optional
        ``[sources]`` table; ``None`` gives the packaged defaults.

    Returns
    -------
    CostSettings
        Values set by the file have their source from its ``[sources]``
        table, else ``"set in <path>"``.

    Raises
    ------
    ConfigError
        If the file is missing or not valid TOML, has an unknown key (the
        message suggests the closest known one), or a value of the wrong type
        or out of range (the message names the file and the key).
    """
    base = default_cost_settings()
    if path is None:
        return base
    path = Path(path)
    settings = _from_mapping(_read_toml(path), base, str(path))
    logger.info("cost settings read from %s", path)
    return settings


# -- power -------------------------------------------------------------------
@dataclass(frozen=True)
class PowerOption:
    """Power choice per candidate (arrays of equal length).

    Attributes
    ----------
    option
        ``'grid'`` or ``'solar'`` (object array): the cheaper lifetime cost;
        grid wins ties.
    cost_vnd
        Lifetime cost of the chosen option, VND.
    capex_vnd
        Capex of the chosen option, VND.
    grid_vnd
        Lifetime cost of grid extension, VND (NaN where the distance is unknown).
    solar_vnd
        Lifetime cost of off-grid solar, VND.
    """

    option: np.ndarray
    cost_vnd: np.ndarray
    capex_vnd: np.ndarray
    grid_vnd: np.ndarray
    solar_vnd: np.ndarray


def _distances(values: Any, name: str) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if arr.ndim != 1:
        raise DatasetError(f"{name}: expected a one-dimensional array, got shape {arr.shape}")
    if (arr < 0).any() or np.isinf(arr).any():
        bad = int(np.flatnonzero((arr < 0) | np.isinf(arr))[0])
        raise DatasetError(
            f"{name}: distances must be finite and >= 0 (NaN = unknown), got {arr[bad]!r}",
            row=bad + 1,
        )
    return arr


def power_cost(
    distance_to_grid_m: Any,
    settings: CostSettings,
    slope_factor: Any = None,
) -> PowerOption:
    """Choose grid extension or off-grid solar for each candidate.

    Grid lifetime cost = ``grid_connection_fixed_vnd + transformer_vnd +
    mv_line_vnd_per_km * km * (1 + (terrain_factor - 1) * slope_factor) +
    annuity * grid_energy_vnd_per_year``; solar lifetime cost =
    ``solar_system_vnd + annuity * solar_opex_vnd_per_year``, with
    ``annuity = settings.annuity_factor()`` (discounted at ``discount_rate``
    over ``evaluation_years``).  The cheaper wins; grid wins a tie.

    Parameters
    ----------
    distance_to_grid_m
        Distance from each candidate to the medium-voltage grid, metres
        (metric CRS); NaN where there is no known grid (solar is chosen).
    settings
        Cost figures.
    slope_factor
        Optional share (0-1) of each route on steep ground, scalar or array;
        ``None`` means ordinary ground (0).

    Returns
    -------
    PowerOption

    Raises
    ------
    DatasetError
        On a negative or infinite distance, or a slope share outside [0, 1].
    """
    dist = _distances(distance_to_grid_m, "distance_to_grid_m")
    n = dist.size
    if slope_factor is None:
        steep = np.zeros(n)
    else:
        steep = np.broadcast_to(np.asarray(slope_factor, dtype=np.float64), (n,))
        if np.isnan(steep).any() or (steep < 0).any() or (steep > 1).any():
            raise DatasetError("slope_factor: expected shares between 0 and 1")
    a = settings.annuity_factor()
    multiplier = 1.0 + (settings.terrain_factor - 1.0) * steep
    grid_capex = (
        settings.grid_connection_fixed_vnd
        + settings.transformer_vnd
        + settings.mv_line_vnd_per_km * dist / 1000.0 * multiplier
    )
    grid = grid_capex + a * settings.grid_energy_vnd_per_year
    solar_capex = np.full(n, settings.solar_system_vnd)
    solar = solar_capex + a * settings.solar_opex_vnd_per_year
    use_grid = ~np.isnan(grid) & (grid <= solar)
    option = np.where(use_grid, "grid", "solar").astype(object)
    return PowerOption(
        option=option,
        cost_vnd=np.where(use_grid, grid, solar),
        capex_vnd=np.where(use_grid, grid_capex, solar_capex),
        grid_vnd=grid,
        solar_vnd=solar,
    )


# -- backhaul -----------------------------------------------------------------
@dataclass(frozen=True)
class BackhaulOption:
    """Backhaul choice per candidate (arrays of equal length).

    Attributes
    ----------
    option
        ``'microwave'``, ``'fibre'`` or ``'satellite'`` (object array).
    cost_vnd
        Lifetime cost, VND (satellite includes its discounted capacity).
    capex_vnd
        Capex, VND.
    """

    option: np.ndarray
    cost_vnd: np.ndarray
    capex_vnd: np.ndarray


def backhaul_cost(
    distance_to_nearest_visible_tower_m: Any,
    distance_to_fibre_m: Any,
    settings: CostSettings,
) -> BackhaulOption:
    """Choose the backhaul of each candidate: microwave, else fibre, else satellite.

    1. ``microwave`` (``microwave_link_vnd``) when a tower or chosen site in
       line of sight lies within ``microwave_max_km``;
    2. else ``fibre`` (``fibre_vnd_per_km`` x distance) when the fibre network
       lies within ``fibre_max_km``;
    3. else ``satellite`` (``satellite_capex_vnd`` + annuity x
       ``satellite_opex_vnd_per_year``).

    Parameters
    ----------
    distance_to_nearest_visible_tower_m
        Distance to the nearest existing tower (or chosen site) with a line of
        sight, metres; NaN where none is visible.
    distance_to_fibre_m
        Distance to the fibre network, metres; NaN where unknown.  A scalar
        is broadcast.
    settings
        Cost figures.

    Returns
    -------
    BackhaulOption

    Raises
    ------
    DatasetError
        On negative or infinite distances or arrays of different lengths.
    """
    tower = _distances(distance_to_nearest_visible_tower_m, "distance_to_nearest_visible_tower_m")
    fibre = _distances(distance_to_fibre_m, "distance_to_fibre_m")
    if fibre.size == 1 and tower.size != 1:
        fibre = np.full(tower.size, fibre[0])
    if fibre.size != tower.size:
        raise DatasetError(
            f"backhaul_cost: {tower.size} tower distances but {fibre.size} fibre distances"
        )
    with np.errstate(invalid="ignore"):
        microwave = tower <= settings.microwave_max_km * 1000.0
        by_fibre = ~microwave & (fibre <= settings.fibre_max_km * 1000.0)
    satellite = ~microwave & ~by_fibre
    fibre_capex = settings.fibre_vnd_per_km * np.nan_to_num(fibre) / 1000.0
    capex = np.select(
        [microwave, by_fibre],
        [np.full(tower.size, settings.microwave_link_vnd), fibre_capex],
        default=settings.satellite_capex_vnd,
    )
    cost = capex + np.where(
        satellite, settings.annuity_factor() * settings.satellite_opex_vnd_per_year, 0.0
    )
    option = np.select([microwave, by_fibre], ["microwave", "fibre"], default="satellite").astype(
        object
    )
    return BackhaulOption(option=option, cost_vnd=cost, capex_vnd=capex)


# -- whole site ------------------------------------------------------------------
def site_cost(
    distance_to_grid_m: Any,
    distance_to_nearest_visible_tower_m: Any,
    distance_to_fibre_m: Any,
    settings: CostSettings | None = None,
    *,
    slope_factor: Any = None,
    index: Any = None,
) -> pd.DataFrame:
    """Cost table of candidate sites: tower, power and backhaul choices and totals.

    Parameters
    ----------
    distance_to_grid_m, distance_to_nearest_visible_tower_m, distance_to_fibre_m
        Per-candidate distances in metres (see :func:`power_cost` and
        :func:`backhaul_cost`).
    settings
        Cost figures (default: the packaged ones).
    slope_factor
        Optional steep share of each grid route (see :func:`power_cost`).
    index
        Index of the returned frame (e.g. candidate ids); default 0..n-1.

    Returns
    -------
    pandas.DataFrame
        Columns ``tower_vnd`` (tower + equipment capex), ``power_option``,
        ``power_vnd``, ``grid_alternative_vnd``, ``solar_alternative_vnd``,
        ``backhaul_option``, ``backhaul_vnd``, ``capex_vnd``, ``total_vnd``
        (tower + lifetime power + lifetime backhaul) and ``total_usd``.
    """
    settings = settings if settings is not None else default_cost_settings()
    power = power_cost(distance_to_grid_m, settings, slope_factor)
    backhaul = backhaul_cost(distance_to_nearest_visible_tower_m, distance_to_fibre_m, settings)
    n = power.option.size
    if backhaul.option.size != n:
        raise DatasetError(
            f"site_cost: {n} grid distances but {backhaul.option.size} backhaul distances"
        )
    tower = np.full(n, settings.tower_capex_vnd + settings.equipment_capex_vnd)
    total = tower + power.cost_vnd + backhaul.cost_vnd
    frame = pd.DataFrame(
        {
            "tower_vnd": tower,
            "power_option": pd.array(power.option, dtype="string"),
            "power_vnd": power.cost_vnd,
            "grid_alternative_vnd": power.grid_vnd,
            "solar_alternative_vnd": power.solar_vnd,
            "backhaul_option": pd.array(backhaul.option, dtype="string"),
            "backhaul_vnd": backhaul.cost_vnd,
            "capex_vnd": tower + power.capex_vnd + backhaul.capex_vnd,
            "total_vnd": total,
            "total_usd": settings.to_usd(total),
        }
    )
    if index is not None:
        frame.index = pd.Index(index)
    return frame


# -- geometry ------------------------------------------------------------------
def distance_to_lines(
    points_gdf: gpd.GeoDataFrame, lines_gdf: gpd.GeoDataFrame | None
) -> np.ndarray:
    """Distance in metres from each point to the nearest line (e.g. the MV grid).

    Parameters
    ----------
    points_gdf
        Candidate points in a projected metric CRS.
    lines_gdf
        Lines (any geometry works); reprojected to the points' CRS when
        different.  ``None`` or empty gives all NaN.

    Returns
    -------
    numpy.ndarray
        float64 distances, NaN for empty or missing point geometries.

    Raises
    ------
    CRSError
        If either layer has no CRS or the points' CRS is geographic (degrees).
    """
    n = len(points_gdf)
    if points_gdf.crs is None:
        raise CRSError("distance_to_lines: the points have no CRS")
    crs = CRS.from_user_input(points_gdf.crs)
    if crs.is_geographic or not crs.is_projected:
        raise CRSError(
            f"distance_to_lines: the points' CRS {crs.name!r} is not projected; "
            "distances need a metric CRS (reproject to the analysis CRS first)"
        )
    out = np.full(n, np.nan)
    if lines_gdf is None or len(lines_gdf) == 0 or n == 0:
        return out
    if lines_gdf.crs is None:
        raise CRSError("distance_to_lines: the lines have no CRS")
    if CRS.from_user_input(lines_gdf.crs) != crs:
        lines_gdf = lines_gdf.to_crs(crs)
    lines = lines_gdf[~(lines_gdf.geometry.isna() | lines_gdf.geometry.is_empty)]
    if len(lines) == 0:
        return out
    geoms = points_gdf.geometry
    valid = (~(geoms.isna() | geoms.is_empty)).to_numpy()
    if not valid.any():
        return out
    pairs, dist = lines.sindex.nearest(geoms[valid], return_all=False, return_distance=True)
    idx = np.flatnonzero(valid)[pairs[0]]
    out[idx] = dist
    return out
