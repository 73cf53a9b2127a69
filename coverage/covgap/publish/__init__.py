"""Publishing: summary.json, village lists (CSV, GeoJSON) and the Leaflet map."""

from covgap.files import atomic_write_bytes, atomic_write_text, write_csv, write_geojson
from covgap.publish.report import RunOutputs, publish_run

__all__ = [
    "RunOutputs",
    "atomic_write_bytes",
    "atomic_write_text",
    "publish_run",
    "write_csv",
    "write_geojson",
]
