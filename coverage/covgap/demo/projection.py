"""Conversions between WGS 84 longitude/latitude and the demo's UTM 48N metres."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from pyproj import Transformer

from covgap.demo.facts import UTM_EPSG

__all__ = ["to_lonlat", "to_utm"]


@lru_cache(maxsize=2)
def _transformer(inverse: bool) -> Transformer:
    if inverse:
        return Transformer.from_crs(UTM_EPSG, 4326, always_xy=True)
    return Transformer.from_crs(4326, UTM_EPSG, always_xy=True)


def to_utm(lon: np.ndarray | float, lat: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """Project WGS 84 longitude/latitude to UTM 48N easting/northing (metres)."""
    x, y = _transformer(False).transform(np.asarray(lon, float), np.asarray(lat, float))
    return np.asarray(x, float), np.asarray(y, float)


def to_lonlat(x: np.ndarray | float, y: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """Unproject UTM 48N easting/northing (metres) to WGS 84 longitude/latitude."""
    lon, lat = _transformer(True).transform(np.asarray(x, float), np.asarray(y, float))
    return np.asarray(lon, float), np.asarray(lat, float)
