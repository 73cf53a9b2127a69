"""Fixed facts and parameters of the synthetic Tủa Chùa demo.

The commune names, 2009 census populations, approximate centroids and areas
are real (they come from the foundation issue's table).  Everything else the
demo generator derives from them is SYNTHETIC.  Commune codes are short
project codes (``TC-XC`` for Xã Xín Chải), not official statistical codes.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "COMMUNES",
    "DEM_BUFFER_M",
    "DEM_CELL_M",
    "DISTRICT_AREA_KM2",
    "DISTRICT_BBOX",
    "N_NO_SIGNAL",
    "N_UNPOWERED",
    "N_UNPOWERED_NO_SIGNAL",
    "N_VILLAGES",
    "PEOPLE_PER_HOUSEHOLD",
    "SEED",
    "TOWN_LATLON",
    "UTM_EPSG",
    "CommuneFact",
]

SEED = 20090401
"""Seed of every random draw (the 2009 census day, 1 April 2009)."""

UTM_EPSG = 32648
"""WGS 84 / UTM zone 48N, the metric CRS of all generation steps and the DEM."""

DISTRICT_AREA_KM2 = 683.0
DISTRICT_BBOX = (103.25, 21.78, 103.52, 22.16)
"""Approximate lon/lat extent of the district (west, south, east, north)."""

TOWN_LATLON = (21.857, 103.336)
"""Thị trấn Tủa Chùa, the district town; the substation is near it."""

DEM_CELL_M = 30.0
DEM_BUFFER_M = 16_500.0
"""DEM margin around the area's bounding box: the default scenario's 15 km
radius plus 1.5 km, so that the DEM covers every existing and candidate
site's radius and a first run warns of nothing (the generator checks the
towers it places; planning candidates lie inside the communes)."""

N_VILLAGES = 120
N_UNPOWERED = 17
N_NO_SIGNAL = 36
N_UNPOWERED_NO_SIGNAL = 14
"""How many of the 17 unpowered villages also report no mobile signal."""

PEOPLE_PER_HOUSEHOLD = 5.0
"""Assumed mean household size: a commune has round(population / 5) households."""


@dataclass(frozen=True)
class CommuneFact:
    """One commune of Tủa Chùa district.

    Attributes
    ----------
    code
        Project commune code, ``TC-`` plus an abbreviation of the name.
    name
        Vietnamese name with its administrative prefix, in NFC.
    population
        2009 census population.
    lat, lon
        Approximate centroid (WGS 84).
    area_km2
        Approximate area.
    lowland
        True for the Thái valley communes (village names in Thái style).
    """

    code: str
    name: str
    population: int
    lat: float
    lon: float
    area_km2: float
    lowland: bool = False

    @property
    def abbrev(self) -> str:
        """Return the abbreviation used in village codes (``XC`` for ``TC-XC``)."""
        return self.code.split("-", 1)[1]

    @property
    def is_town(self) -> bool:
        """Return True for the district town (Thị trấn)."""
        return self.name.startswith("Thị trấn")


COMMUNES: tuple[CommuneFact, ...] = (
    CommuneFact("TC-TT", "Thị trấn Tủa Chùa", 2539, 21.857, 103.336, 2.6),
    CommuneFact("TC-XC", "Xã Xín Chải", 3700, 22.096, 103.339, 89.6),
    CommuneFact("TC-HS", "Xã Huổi Só", 1663, 22.072, 103.414, 60.7),
    CommuneFact("TC-TST", "Xã Tả Sìn Thàng", 2882, 22.041, 103.355, 51.1),
    CommuneFact("TC-LXP", "Xã Lao Xả Phình", 1762, 22.001, 103.294, 50.3),
    CommuneFact("TC-TP", "Xã Tả Phìn", 2795, 21.984, 103.365, 50.8),
    CommuneFact("TC-TTH", "Xã Tủa Thàng", 3659, 21.960, 103.440, 88.4),
    CommuneFact("TC-TTU", "Xã Trung Thu", 2437, 21.935, 103.298, 53.2),
    CommuneFact("TC-SP", "Xã Sính Phình", 4600, 21.908, 103.352, 68.8),
    CommuneFact("TC-MB", "Xã Mường Báng", 6774, 21.834, 103.342, 68.8, lowland=True),
    CommuneFact("TC-SN", "Xã Sáng Nhè", 4401, 21.873, 103.421, 61.2, lowland=True),
    CommuneFact("TC-MD", "Xã Mường Đun", 2531, 21.885, 103.473, 37.8, lowland=True),
)
