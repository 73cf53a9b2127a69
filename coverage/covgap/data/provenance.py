"""Provenance of a prepared dataset: every input file with its SHA-256, licence and attribution.

``covgap prepare`` records one :class:`Source` per input file in the
``[[sources]]`` tables of ``dataset.toml``; ``covgap run`` shows their
attributions in the map's attribution control and the XLSX's assumptions sheet.
The licences below are those the data publishers state (see ``docs/open-data.md``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["LICENCES", "Source", "dem_kind", "population_kind", "sha256_file", "source_for"]

LICENCES: dict[str, tuple[str, str, str]] = {
    "osm": (
        "ODbL-1.0",
        "© OpenStreetMap contributors, ODbL",
        "https://www.openstreetmap.org/copyright",
    ),
    "opencellid": (
        "CC-BY-SA-4.0",
        "OpenCelliD Project, CC BY-SA 4.0",
        "https://opencellid.org",
    ),
    "srtm": (
        "public domain",
        "SRTM (NASA/USGS), public domain",
        "https://www.earthdata.nasa.gov/data/instruments/srtm",
    ),
    "copernicus": (
        "Copernicus DEM licence",
        "Copernicus DEM GLO-30 © DLR e.V. 2010-2014 and © Airbus Defence and Space GmbH "
        "2014-2018, provided under COPERNICUS by the European Union and ESA",
        "https://spacedata.copernicus.eu/collections/copernicus-digital-elevation-model",
    ),
    "worldpop": (
        "CC-BY-4.0",
        "WorldPop (www.worldpop.org), CC BY 4.0",
        "https://www.worldpop.org",
    ),
    "hrsl": (
        "CC-BY-4.0",
        "High Resolution Settlement Layer, Data for Good at Meta and CIESIN, CC BY 4.0",
        "https://dataforgood.facebook.com/dfg/tools/high-resolution-population-density-maps",
    ),
    "worldcover": (
        "CC-BY-4.0",
        "© ESA WorldCover project 2021 / Contains modified Copernicus Sentinel data (2021) "
        "processed by ESA WorldCover consortium, CC BY 4.0",
        "https://esa-worldcover.org",
    ),
    "user": ("given by the user", "", ""),
}
"""Licence, attribution text and home page per kind of source."""


@dataclass(frozen=True)
class Source:
    """One input file of a prepared dataset."""

    role: str
    """What the file gave: ``communes``, ``osm``, ``dem``, ``cells``, ``population``..."""
    file: str
    """The file's name as given (no folder, so that the record is portable)."""
    sha256: str
    size_bytes: int
    kind: str
    """A key of :data:`LICENCES`."""
    licence: str
    attribution: str
    url: str

    def as_toml(self) -> dict[str, Any]:
        """Return the record as written into ``dataset.toml``'s ``[[sources]]``."""
        return {
            "role": self.role,
            "file": self.file,
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "licence": self.licence,
            "attribution": self.attribution,
            "url": self.url,
        }


def sha256_file(path: str | Path, *, block: int = 1 << 20) -> str:
    """Return the hexadecimal SHA-256 of a file, read in blocks (constant memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def source_for(path: str | Path, role: str, kind: str) -> Source:
    """Describe one input file.

    Parameters
    ----------
    path
        The file.
    role
        What it is used for (``communes``, ``osm``, ``dem``...).
    kind
        A key of :data:`LICENCES` (``"user"`` for files of the user's own).
    """
    path = Path(path)
    licence, attribution, url = LICENCES[kind]
    return Source(
        role=role,
        file=path.name,
        sha256=sha256_file(path),
        size_bytes=path.stat().st_size,
        kind=kind,
        licence=licence,
        attribution=attribution,
        url=url,
    )


def population_kind(path: str | Path) -> str:
    """Tell the publisher of a population raster from its file name (``user`` if unknown).

    WorldPop names its files ``vnm_ppp_2020...``/``vnm_pd_...``; Meta's HRSL
    ``population_vnm_...`` or ``..._hrsl_...``.
    """
    name = Path(path).name.lower()
    if "worldpop" in name or re.match(r"[a-z]{3}_(ppp|pd|ppp_\d{4})", name):
        return "worldpop"
    if "hrsl" in name or name.startswith("population_"):
        return "hrsl"
    return "user"


def dem_kind(path: str | Path) -> str:
    """Tell the source of an elevation tile from its name: ``srtm``, ``copernicus`` or ``user``."""
    name = Path(path).name.lower()
    if name.endswith((".hgt", ".hgt.zip")):
        return "srtm"
    if "copernicus" in name:
        return "copernicus"
    return "user"
