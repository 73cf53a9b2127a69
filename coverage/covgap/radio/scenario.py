"""Radio scenario settings: band, powers, gains, heights, thresholds (TOML).

A :class:`Scenario` holds everything the signal engine needs besides the
terrain and the sites.  The defaults live in the package file
``covgap/scenarios/default.toml``, where each value is commented with its
source; ``docs/radio.md`` gives the derivations.

A scenario file is a flat TOML table using the field names of
:class:`Scenario`; every key is optional::

    name = "lte1800"
    frequency_mhz = 1800
    tx_power_dbm = 18.2
    threshold_dbm = -110
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from covgap.data.worldcover import WORLDCOVER_CLASSES
from covgap.errors import ConfigError
from covgap.radio import pathloss
from covgap.settings import check_keys, check_number, read_toml

__all__ = [
    "DIFFRACTIONS",
    "ENVIRONMENTS",
    "ITM_CLIMATES",
    "ITM_POLARIZATIONS",
    "MODELS",
    "MODEL_ITM",
    "TECHNOLOGIES",
    "Scenario",
    "as_scenario",
    "default_scenario",
    "load_scenario",
    "site_parameters",
]

logger = logging.getLogger(__name__)

#: Environment names and their :mod:`covgap.radio.pathloss` codes.
ENVIRONMENTS: dict[str, int] = {
    "open": pathloss.ENV_OPEN,
    "suburban": pathloss.ENV_SUBURBAN,
    "urban": pathloss.ENV_URBAN,
}
#: Code of the ITM (Longley-Rice) model: computed by :mod:`covgap.radio.itm` along
#: radials, not by the median-loss tables of :mod:`covgap.radio.pathloss`.
MODEL_ITM = 3
#: Path-loss model names and their codes (:mod:`covgap.radio.pathloss`, or MODEL_ITM).
MODELS: dict[str, int] = {
    "auto": pathloss.MODEL_AUTO,
    "free_space": pathloss.MODEL_FREE_SPACE,
    "hata": pathloss.MODEL_HATA,
    "itm": MODEL_ITM,
}
#: ITM radio climates by name (NTIA's codes 1-7; same table as covgap.radio.itm.CLIMATES).
ITM_CLIMATES: dict[str, int] = {
    "equatorial": 1,
    "continental_subtropical": 2,
    "maritime_subtropical": 3,
    "desert": 4,
    "continental_temperate": 5,
    "maritime_temperate_land": 6,
    "maritime_temperate_sea": 7,
}
#: ITM polarisations by name (NTIA's codes).
ITM_POLARIZATIONS: dict[str, int] = {"horizontal": 0, "vertical": 1}
#: Diffraction methods and their integer codes (used by the signal kernel).
DIFFRACTIONS: dict[str, int] = {"none": 0, "knife_edge": 1, "deygout": 2}
#: Radio technologies as OpenCelliD spells them.
TECHNOLOGIES: tuple[str, ...] = ("GSM", "UMTS", "LTE", "NR", "CDMA")

# (low, high, low inclusive, high inclusive) for each numeric field.
_RANGES: dict[str, tuple[float, float, bool, bool]] = {
    "frequency_mhz": (30.0, 6000.0, True, True),
    "tx_power_dbm": (-30.0, 70.0, True, True),
    "antenna_gain_dbi": (-10.0, 40.0, True, True),
    "cable_loss_db": (0.0, 30.0, True, True),
    "receiver_gain_dbi": (-20.0, 20.0, True, True),
    "mast_height_m": (0.0, 500.0, False, True),
    "receiver_height_m": (0.0, 100.0, False, True),
    "radius_m": (0.0, 200_000.0, False, True),
    "k_factor": (0.0, math.inf, False, True),
    "threshold_dbm": (-160.0, -20.0, True, True),
    "threshold_good_dbm": (-160.0, -20.0, True, True),
    "covered_share": (0.0, 1.0, False, True),
    "weight_covered": (0.0, 1000.0, True, True),
    "weight_powered": (0.0, 1000.0, True, True),
    "itm_refractivity": (250.0, 400.0, True, True),
    "itm_permittivity": (1.0, 100.0, True, True),
    "itm_conductivity": (0.0, 100.0, False, True),
    "itm_mdvar": (0.0, 33.0, True, True),
    "itm_time_pct": (0.0, 100.0, False, False),
    "itm_location_pct": (0.0, 100.0, False, False),
    "itm_situation_pct": (0.0, 100.0, False, False),
    "itm_radials": (8.0, 7200.0, True, True),
    "itm_step_m": (0.0, 5000.0, False, True),
    "foliage_depth_m": (0.0, 5000.0, True, True),
    "foliage_max_db": (0.0, 100.0, True, True),
    "calibration_offset_db": (-60.0, 60.0, True, True),
    "calibration_slope_db": (-60.0, 60.0, True, True),
    "calibration_distance_km": (0.01, 1000.0, True, True),
}
#: Integer-valued numeric fields.
_INTEGERS = ("itm_mdvar", "itm_radials")
_CHOICES: dict[str, tuple[str, ...]] = {
    "environment": tuple(ENVIRONMENTS),
    "model": tuple(MODELS),
    "diffraction": tuple(DIFFRACTIONS),
    "technology": TECHNOLOGIES,
    "itm_climate": tuple(ITM_CLIMATES),
    "itm_polarization": tuple(ITM_POLARIZATIONS),
}


@dataclass(frozen=True)
class Scenario:
    """Radio settings of one coverage computation.

    Attributes
    ----------
    name
        Label used in reports.
    frequency_mhz
        Carrier frequency, MHz (default 900, the rural coverage band).
    technology
        ``GSM``, ``UMTS``, ``LTE``, ``NR`` or ``CDMA`` (default ``LTE``).
    tx_power_dbm
        Power per LTE reference signal (RS EPRE), dBm: 46 dBm over 600
        subcarriers = 18.2 dBm.
    antenna_gain_dbi
        Base-station antenna gain, dBi (sector panel, 15).
    cable_loss_db
        Feeder and connector loss, dB (2).
    receiver_gain_dbi
        Handset antenna gain, dBi (0).
    mast_height_m
        Antenna height above ground where a site gives none, m (30).
    receiver_height_m
        Handset height above ground, m (1.5).
    radius_m
        Largest distance computed from each site, m (15 000).
    k_factor
        Effective earth-radius factor (4/3); ``inf`` for a flat earth.
    environment
        Hata environment: ``open``, ``suburban`` or ``urban``.
    model
        ``auto``, ``hata``, ``free_space`` (median loss + ``diffraction``) or
        ``itm`` (ITM / Longley-Rice point-to-point along radials; then
        ``environment``, ``diffraction`` and ``k_factor`` are not used).
    diffraction
        ``deygout``, ``knife_edge`` or ``none``.
    threshold_dbm
        RSRP at or above which a place has basic coverage, dBm (-110).
    threshold_good_dbm
        RSRP for good coverage, dBm (-100); not below ``threshold_dbm``.
    covered_share
        Share of a village's households at or above ``threshold_dbm`` for the
        village to count as covered (0.5).
    weight_covered, weight_powered
        Weights of a household gaining coverage and of one gaining grid power
        in the joint plan's objective (:mod:`covgap.planning.joint`; 1 : 1).
    itm_climate, itm_polarization, itm_refractivity, itm_permittivity, itm_conductivity
        ITM's radio climate (``continental_subtropical``), polarisation
        (``vertical``), sea-level surface refractivity (301 N-units), ground
        permittivity (15) and conductivity (0.005 S/m); used with ``model = "itm"``.
    itm_mdvar
        ITM's mode of variability (12: mobile, without location variability).
    itm_time_pct, itm_location_pct, itm_situation_pct
        ITM's percentages (50: the median).
    itm_radials, itm_step_m
        Area raster by ITM: radials per site (180) and distance between ITM
        evaluations along each (480 m, rounded to whole DEM cells).
    clutter_loss_db
        Clutter loss at the receiver per ESA WorldCover class, dB, as
        ``((class, dB), ...)`` (a TOML table ``{ 10 = 4.8, ... }``); used
        only when the dataset has ``terrain/landcover.tif`` (ITU-R P.2108).
    foliage_db_per_m
        Specific attenuation of vegetation per WorldCover class, dB/m
        (ITU-R P.833, Weissberger); same form as ``clutter_loss_db``.
    foliage_depth_m
        Length of the last stretch of each path, next to the receiver, whose
        vegetation is counted, m (400, Weissberger's validity limit).
    foliage_max_db
        Largest foliage loss, dB (ITU-R P.833's ``A_m``; 30 at 900 MHz).
    calibration_offset_db
        Added to every predicted RSRP, dB (fitted by ``covgap calibrate``).
    calibration_slope_db
        Added per decade of distance from the site, relative to
        ``calibration_distance_km``, dB/decade.
    calibration_distance_km
        Reference distance of the slope, km.
    calibration_operators
        Per-operator offset and slope, ``((operator, offset_db, slope_db), ...)``
        (a TOML table ``{ Viettel = { offset_db = 3.1, slope_db = 0.0 } }``);
        they replace the global ones for that operator's sites.
    """

    name: str = "default"
    frequency_mhz: float = 900.0
    technology: str = "LTE"
    tx_power_dbm: float = 18.2
    antenna_gain_dbi: float = 15.0
    cable_loss_db: float = 2.0
    receiver_gain_dbi: float = 0.0
    mast_height_m: float = 30.0
    receiver_height_m: float = 1.5
    radius_m: float = 15000.0
    k_factor: float = 4.0 / 3.0
    environment: str = "open"
    model: str = "auto"
    diffraction: str = "deygout"
    threshold_dbm: float = -110.0
    threshold_good_dbm: float = -100.0
    covered_share: float = 0.5
    weight_covered: float = 1.0
    weight_powered: float = 1.0
    itm_climate: str = "continental_subtropical"
    itm_polarization: str = "vertical"
    itm_refractivity: float = 301.0
    itm_permittivity: float = 15.0
    itm_conductivity: float = 0.005
    itm_mdvar: int = 12
    itm_time_pct: float = 50.0
    itm_location_pct: float = 50.0
    itm_situation_pct: float = 50.0
    itm_radials: int = 180
    itm_step_m: float = 480.0
    clutter_loss_db: tuple[tuple[int, float], ...] = ((10, 4.8), (50, 1.0), (95, 4.8))
    foliage_db_per_m: tuple[tuple[int, float], ...] = ((10, 0.2), (20, 0.1), (95, 0.2))
    foliage_depth_m: float = 400.0
    foliage_max_db: float = 30.0
    calibration_offset_db: float = 0.0
    calibration_slope_db: float = 0.0
    calibration_distance_km: float = 1.0
    calibration_operators: tuple[tuple[str, float, float], ...] = ()

    def __post_init__(self) -> None:
        for key, value in _validated(dataclasses.asdict(self), "scenario").items():
            object.__setattr__(self, key, value)

    # -- derived values -------------------------------------------------
    @property
    def curvature_coef(self) -> float:
        """GDAL's curvature coefficient ``cc = 1/k`` (0.75 for k = 4/3, 0 for k = inf)."""
        return 1.0 / self.k_factor

    @property
    def wavelength_m(self) -> float:
        """Carrier wavelength, m."""
        return pathloss.wavelength_m(self.frequency_mhz)

    @property
    def environment_code(self) -> int:
        """Environment as a :mod:`covgap.radio.pathloss` ``ENV_*`` code."""
        return ENVIRONMENTS[self.environment]

    @property
    def model_code(self) -> int:
        """Model as a :mod:`covgap.radio.pathloss` ``MODEL_*`` code."""
        return MODELS[self.model]

    @property
    def diffraction_code(self) -> int:
        """Diffraction method: 0 none, 1 dominant knife edge, 2 Deygout."""
        return DIFFRACTIONS[self.diffraction]

    @property
    def eirp_dbm(self) -> float:
        """Radiated power per reference signal: power + antenna gain - cable loss, dBm."""
        return self.tx_power_dbm + self.antenna_gain_dbi - self.cable_loss_db

    def received_dbm(self, loss_db: float) -> float:
        """Received power for a total path loss: EIRP + receiver gain - loss, dBm."""
        return self.eirp_dbm + self.receiver_gain_dbi - loss_db

    def with_overrides(self, **changes: Any) -> Scenario:
        """Return a copy with some fields changed (validated like a file).

        Raises
        ------
        ConfigError
            On an unknown field or a bad value.
        """
        _check_keys(changes, "overrides")
        values = dataclasses.asdict(self)
        values.update(changes)
        return Scenario(**_validated(values, "overrides"))

    @property
    def propagation_model(self) -> str:
        """Model named in ``summary.json``: ``itm``, or ``<model>+<diffraction>``."""
        return "itm" if self.model == "itm" else f"{self.model}+{self.diffraction}"

    def itm_parameters(self) -> Any:
        """ITM's inputs (:class:`covgap.radio.itm.ItmParameters`) from the ``itm_*`` keys."""
        from covgap.radio.itm import ItmParameters

        return ItmParameters(
            climate=ITM_CLIMATES[self.itm_climate],
            refractivity=self.itm_refractivity,
            polarization=ITM_POLARIZATIONS[self.itm_polarization],
            permittivity=self.itm_permittivity,
            conductivity=self.itm_conductivity,
            mdvar=int(self.itm_mdvar),
            time=self.itm_time_pct,
            location=self.itm_location_pct,
            situation=self.itm_situation_pct,
        )

    def calibration_for(self, operator: str) -> tuple[float, float]:
        """``(offset_db, slope_db)`` for an operator's sites (its own, else the global)."""
        for name, offset, slope in self.calibration_operators:
            if name == operator:
                return offset, slope
        return self.calibration_offset_db, self.calibration_slope_db

    @property
    def calibrated(self) -> bool:
        """Whether any calibration term is non-zero."""
        return bool(
            self.calibration_offset_db
            or self.calibration_slope_db
            or any(o or s for _, o, s in self.calibration_operators)
        )

    def validity_warnings(self) -> list[str]:
        """Where this scenario leaves the path-loss models' validity ranges."""
        if self.model == "itm":
            return _itm_warnings(self)
        return pathloss.validity_warnings(
            self.frequency_mhz,
            self.mast_height_m,
            self.receiver_height_m,
            self.radius_m,
            self.model_code,
        )


_FIELDS: dict[str, dataclasses.Field[Any]] = {f.name: f for f in dataclasses.fields(Scenario)}


def _check_keys(mapping: Mapping[str, Any], source: str) -> None:
    check_keys(mapping, _FIELDS, source)


_CLASS_TABLES = {"clutter_loss_db": (0.0, 60.0), "foliage_db_per_m": (0.0, 5.0)}


def _class_table(value: Any, key: str, where: str) -> tuple[tuple[int, float], ...]:
    """Return a ``{class: value}`` table (or its tuple form) as sorted pairs."""
    items = value.items() if isinstance(value, Mapping) else value
    if isinstance(value, str) or not isinstance(items, Iterable):
        raise ConfigError(f"{where}: expected a table of WorldCover class = value")
    low, high = _CLASS_TABLES[key]
    out: dict[int, float] = {}
    for item in items:
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise ConfigError(f"{where}: expected a table of WorldCover class = value")
        name, number = item
        try:
            code = int(str(name).strip())
        except ValueError:
            code = -1
        if code not in WORLDCOVER_CLASSES:
            raise ConfigError(
                f"{where}: {name!r} is not a WorldCover class "
                f"({', '.join(str(c) for c in WORLDCOVER_CLASSES)})"
            )
        out[code] = check_number(number, (low, high, True, True), f"{where}: class {code}")
    return tuple(sorted(out.items()))


def _operator_table(value: Any, where: str) -> tuple[tuple[str, float, float], ...]:
    """``{operator: {offset_db, slope_db}}`` (or its tuple form) as sorted tuples."""
    if isinstance(value, Mapping):
        items = []
        for name, table in value.items():
            if not isinstance(table, Mapping):
                raise ConfigError(f"{where}: {name!r}: expected a table {{ offset_db = ... }}")
            check_keys(table, ("offset_db", "slope_db"), f"{where}: {name!r}")
            items.append((name, table.get("offset_db", 0.0), table.get("slope_db", 0.0)))
    elif isinstance(value, (tuple, list)):
        items = list(value)
    else:
        raise ConfigError(f"{where}: expected a table of operator = {{ offset_db = ... }}")
    out = []
    for item in items:
        if not isinstance(item, (tuple, list)) or len(item) != 3 or not str(item[0]).strip():
            raise ConfigError(f"{where}: expected operator = {{ offset_db = ..., slope_db = ... }}")
        name = str(item[0]).strip()
        offset = check_number(item[1], _RANGES["calibration_offset_db"], f"{where}: {name!r}")
        slope = check_number(item[2], _RANGES["calibration_slope_db"], f"{where}: {name!r}")
        out.append((name, offset, slope))
    return tuple(sorted(out))


def _validated(values: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Check types and ranges; return the values with numbers as float."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        where = f"{source}: key {key!r}"
        field_type = _FIELDS[key].type
        if key in _CLASS_TABLES:
            out[key] = _class_table(value, key, where)
        elif key == "calibration_operators":
            out[key] = _operator_table(value, where)
        elif field_type in (float, "float", int, "int"):
            number = check_number(value, _RANGES[key], where)
            if key in _INTEGERS:
                if number != int(number):
                    raise ConfigError(f"{where}: expected a whole number, got {value!r}")
                out[key] = int(number)
            else:
                out[key] = number
        else:
            if not isinstance(value, str):
                raise ConfigError(f"{where}: expected a string, got {value!r}")
            text = value.strip()
            if key in _CHOICES:
                choices = _CHOICES[key]
                text = text.upper() if key == "technology" else text.lower()
                if text not in choices:
                    raise ConfigError(f"{where}: {value!r} is not one of {', '.join(choices)}")
            elif not text:
                raise ConfigError(f"{where}: must not be empty")
            out[key] = text
    _check_itm(out, source)
    good = out.get("threshold_good_dbm")
    basic = out.get("threshold_dbm")
    if good is not None and basic is not None and good < basic:
        raise ConfigError(
            f"{source}: key 'threshold_good_dbm': {good:g} dBm is below "
            f"threshold_dbm ({basic:g} dBm)"
        )
    return out


def _check_itm(values: Mapping[str, Any], source: str) -> None:
    """ITM's own limits on the keys it uses (NTIA's reference treats them as errors)."""
    mdvar = values.get("itm_mdvar")
    if mdvar is not None and mdvar % 10 > 3:
        raise ConfigError(
            f"{source}: key 'itm_mdvar': {mdvar} is not a mode of variability "
            "(0-3, plus 10, 20 or 30)"
        )
    if values.get("model") != "itm":
        return
    for key in ("mast_height_m", "receiver_height_m"):
        height = values.get(key)
        if height is not None and not 0.5 <= height <= 3000.0:
            raise ConfigError(
                f'{source}: key {key!r}: {height:g} m is outside ITM\'s 0.5-3000 m (model = "itm")'
            )


def _itm_warnings(scenario: Scenario) -> list[str]:
    """Where a scenario leaves the ranges the ITM reference warns about (not errors)."""
    out = []
    if not 40.0 <= scenario.frequency_mhz <= 10_000.0:
        out.append(f"{scenario.frequency_mhz:g} MHz is outside ITM's recommended 40-10000 MHz")
    for key, label in (("mast_height_m", "mast"), ("receiver_height_m", "receiver")):
        height = getattr(scenario, key)
        if not 1.0 <= height <= 1000.0:
            out.append(f"{label} height {height:g} m is outside ITM's recommended 1-1000 m")
    return out


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario TOML file; keys left out take the defaults.

    The scenario's ``name`` defaults to the file name without extension.
    Validity-range notes (:meth:`Scenario.validity_warnings`) are logged at
    WARNING level.

    Parameters
    ----------
    path
        The ``.toml`` file.

    Returns
    -------
    Scenario

    Raises
    ------
    ConfigError
        If the file is missing or not valid TOML, has an unknown key (the
        message suggests the closest known one), or a value of the wrong type
        or out of range (the message names the file and the key).
    """
    path = Path(path)
    data = read_toml(path, what="scenario file")
    _check_keys(data, str(path))
    data.setdefault("name", path.stem)
    values = {f: getattr(Scenario, f) for f in _FIELDS}
    values.update(data)
    scenario = Scenario(**_validated(values, str(path)))
    for message in scenario.validity_warnings():
        logger.warning("%s: %s", path, message)
    return scenario


def as_scenario(value: Scenario | str | Path | None) -> Scenario:
    """Return ``value`` as a scenario: itself, loaded from a TOML path, or the default for None."""
    if value is None:
        return default_scenario()
    if isinstance(value, Scenario):
        return value
    return load_scenario(value)


def default_scenario() -> Scenario:
    """Return the scenario of the packaged ``scenarios/default.toml``."""
    resource = importlib.resources.files("covgap") / "scenarios" / "default.toml"
    with importlib.resources.as_file(resource) as path:
        return load_scenario(path)


def site_parameters(sites: Any, scenario: Scenario) -> dict[str, np.ndarray]:
    """Per-site transmitter parameters for the signal kernel.

    Optional per-site columns override the scenario where they hold a value:
    ``height_m`` (from ``sites.csv``), ``tx_power_dbm``, ``antenna_gain_dbi``
    and ``cable_loss_db``.  Missing columns and NaN cells take the scenario's
    value.

    Parameters
    ----------
    sites
        GeoDataFrame of sites (the ``Dataset.sites`` contract): ``site_id``
        and point geometries in the analysis CRS.
    scenario
        The defaults.

    Returns
    -------
    dict of numpy.ndarray
        ``site_id`` (object array of str), ``x``, ``y`` (float64, CRS units),
        ``height_m``, ``tx_power_dbm``, ``antenna_gain_dbi``, ``cable_loss_db``
        and ``eirp_dbm`` (float64, no NaN), all of length ``len(sites)``.

    Raises
    ------
    ConfigError
        If a geometry is not a point, or an override is negative where it
        cannot be (heights, cable loss).
    """
    n = len(sites)
    geoms = sites.geometry
    if n and not (geoms.geom_type == "Point").all():
        mask = (geoms.geom_type != "Point").to_numpy()
        bad = [str(s) for s in np.asarray(sites["site_id"], dtype=object)[mask]]
        raise ConfigError(f"sites: geometry is not a point for site(s) {', '.join(bad)}")
    out: dict[str, np.ndarray] = {
        "site_id": np.asarray([str(s) for s in sites["site_id"]], dtype=object),
        "x": np.asarray(geoms.x, dtype=np.float64) if n else np.empty(0),
        "y": np.asarray(geoms.y, dtype=np.float64) if n else np.empty(0),
    }
    defaults = {
        "height_m": scenario.mast_height_m,
        "tx_power_dbm": scenario.tx_power_dbm,
        "antenna_gain_dbi": scenario.antenna_gain_dbi,
        "cable_loss_db": scenario.cable_loss_db,
    }
    for column, default in defaults.items():
        if column in sites.columns:
            values = np.asarray(
                sites[column].astype("float64").to_numpy(na_value=np.nan), dtype=np.float64
            )
            values = np.where(np.isnan(values), default, values)
        else:
            values = np.full(n, default, dtype=np.float64)
        if column in ("height_m", "cable_loss_db") and (values < 0).any():
            bad = [str(s) for s in out["site_id"][values < 0]]
            raise ConfigError(f"sites: column {column!r} is negative for site(s) {', '.join(bad)}")
        out[column] = values
    out["eirp_dbm"] = out["tx_power_dbm"] + out["antenna_gain_dbi"] - out["cable_loss_db"]
    return out
