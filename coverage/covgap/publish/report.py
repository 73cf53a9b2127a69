"""What a run writes: summary.json, the village gap lists and the map."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from covgap.publish.files import write_csv, write_geojson, write_json
from covgap.publish.webmap import build_map, write_map

if TYPE_CHECKING:
    from covgap.dataset import Dataset
    from covgap.gaps import Gaps

__all__ = ["VILLAGE_COLUMNS", "RunOutputs", "publish_run", "summary_dict"]

log = logging.getLogger(__name__)

#: Columns of the village lists, in order.
VILLAGE_COLUMNS = [
    "village_code",
    "village_name",
    "commune_code",
    "commune_name",
    "households",
    "population",
    "mobile_signal",
    "grid_power",
    "coverage_status",
    "power_status",
    "lon",
    "lat",
]


@dataclass
class RunOutputs:
    """Paths written by :func:`publish_run`, and the summary they hold."""

    out_dir: Path
    summary: dict[str, Any]
    files: list[Path] = field(default_factory=list)


def summary_dict(dataset: Dataset, gaps: Gaps) -> dict[str, Any]:
    """Return the content of ``summary.json`` for a dataset and its gaps."""
    counts = gaps.summary()
    summary: dict[str, Any] = {
        "dataset": dataset.name,
        "title": dataset.title,
        "synthetic": bool(dataset.synthetic),
        "crs": dataset.crs.to_string(),
    }
    summary.update(counts)
    summary["unmatched_rows"] = list(dataset.unmatched_rows)
    summary["missing_status"] = {k: list(v) for k, v in dataset.missing_status.items()}
    summary["warnings"] = list(dataset.warnings)
    return summary


def _village_table(dataset: Dataset, gaps: Gaps) -> pd.DataFrame:
    table = gaps.villages.copy()
    if "commune_name" not in table.columns:
        names = dataset.communes.set_index("commune_code")["commune_name"]
        table["commune_name"] = table["commune_code"].map(names)
    points = table.geometry.representative_point().to_crs(4326)
    table["lon"] = points.x.round(6)
    table["lat"] = points.y.round(6)
    return table.sort_values("village_code", kind="stable")


def publish_run(
    dataset: Dataset,
    gaps: Gaps,
    out_dir: str | Path,
    *,
    lang: str = "vi",
) -> RunOutputs:
    """Write the run's outputs into ``out_dir``.

    Files: ``summary.json``; ``villages.csv`` / ``villages.geojson`` (every
    village with its status); ``uncovered.csv``, ``unelectrified.csv`` and
    ``uncovered_and_unelectrified.csv`` (the gap lists; CSV in UTF-8 with BOM so
    that Excel shows Vietnamese); ``<dataset>.html`` (the map).

    Parameters
    ----------
    dataset
        The loaded dataset.
    gaps
        Its gap analysis.
    out_dir
        Output folder (created if needed).
    lang
        Language of the map ("vi" or "en").
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = summary_dict(dataset, gaps)
    table = _village_table(dataset, gaps)
    columns = [c for c in VILLAGE_COLUMNS if c in table.columns]
    files = [
        write_csv(out / "villages.csv", table, columns),
        write_geojson(out / "villages.geojson", table, columns=columns),
    ]
    lists = {
        "uncovered.csv": set(gaps.uncovered),
        "unelectrified.csv": set(gaps.unpowered),
        "uncovered_and_unelectrified.csv": set(gaps.uncovered_and_unpowered),
    }
    for name, codes in lists.items():
        files.append(write_csv(out / name, table[table["village_code"].isin(codes)], columns))
    fmap = build_map(
        table,
        dataset.communes,
        dataset.sites,
        dataset.grid,
        title=dataset.title,
        synthetic=dataset.synthetic,
        summary=summary,
        lang=lang,
    )
    files.append(write_map(fmap, out / f"{dataset.name}.html"))
    files.append(write_json(out / "summary.json", summary))
    log.info("wrote %d files to %s", len(files), out)
    return RunOutputs(out_dir=out, summary=summary, files=files)
