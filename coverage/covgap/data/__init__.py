"""Stage 1, load: read and check a dataset folder, in a metric CRS.

Readers for CSV and vector files, the analysis CRS, communes and villages,
grid-power status, towers, the mobile-signal survey, the DEM, and the join of
status rows to villages.  :func:`load_dataset` returns one validated
:class:`Dataset`; :func:`prepare_dataset` builds a dataset folder from open
data (``covgap prepare``, ``docs/open-data.md``).  Nothing here knows about
radio, planning or publishing.

The names below load their modules on first access.
"""

from __future__ import annotations

from covgap._lazy import lazy_names

#: Public name -> module that defines it (imported on first access).
_LAZY = {
    "Dataset": "covgap.data.dataset",
    "load_dataset": "covgap.data.dataset",
    "FILES": "covgap.data.dataset",
    "Terrain": "covgap.data.terrain",
    "load_terrain": "covgap.data.terrain",
    "analysis_crs": "covgap.data.crs",
    "parse_crs": "covgap.data.crs",
    "read_table": "covgap.data.readers",
    "read_vector": "covgap.data.readers",
    "join_status": "covgap.data.join",
    "prepare_dataset": "covgap.data.prepare",
}

__getattr__, __dir__, __all__ = lazy_names(__name__, _LAZY)
