"""Village coverage from a best-server signal raster, and its comparison with the survey.

Rule (see ``docs/radio.md``)
----------------------------
Each settlement point (or, for a village without settlements, the village's
representative point) takes the value of the raster cell it falls in.  A
point is

* **served** when its RSRP is at or above ``scenario.threshold_dbm``;
* **unserved** when its RSRP is below it, or no site reaches the cell
  (RSRP NaN with best server :data:`BEST_SITE_NONE`);
* **unknown** when the cell is unknown (best server :data:`BEST_SITE_UNKNOWN`,
  or flagged in the optional ``unknown`` mask) or the point is off the raster.

Points are weighted by their households; a village whose points carry no
household count weights them equally.  With ``S`` the served, ``U`` the
unknown and ``T`` the total weight, the village is *covered* when
``S / T >= covered_share``, *uncovered* when even counting every unknown point
as served it stays below (``(S + U) / T < covered_share``), and *unknown*
otherwise.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pyproj import CRS

from covgap.errors import ParameterError
from covgap.radio.scenario import Scenario

__all__ = [
    "BEST_SITE_NONE",
    "BEST_SITE_UNKNOWN",
    "RECEPTION_COLUMNS",
    "SurveyComparison",
    "compare_with_survey",
    "sample_cells",
    "signal_reception",
    "village_reception",
]

logger = logging.getLogger(__name__)

#: ``best_site`` value of a cell no site reaches (RSRP NaN): no signal.
BEST_SITE_NONE = -1
#: ``best_site`` value of a cell whose signal is unknown (terrain nodata on the path).
BEST_SITE_UNKNOWN = -2

RECEPTION_COLUMNS = (
    "village_code",
    "households",
    "households_covered",
    "share_covered",
    "best_rsrp_dbm",
    "best_server",
    "modelled_status",
)

_SERVED, _UNSERVED, _UNKNOWN = 0, 1, 2


def sample_cells(
    x: np.ndarray, y: np.ndarray, transform: Any, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row and column of the raster cell containing each point.

    Parameters
    ----------
    x, y
        Point coordinates in the raster's CRS.
    transform
        The raster's affine transform (``affine.Affine``).
    shape
        ``(rows, cols)``.

    Returns
    -------
    rows, cols : numpy.ndarray of int64
        Cell indices (meaningless where ``inside`` is false).
    inside : numpy.ndarray of bool
        Whether the point falls on the raster.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    inverse = ~transform
    col_f = inverse.a * x + inverse.b * y + inverse.c
    row_f = inverse.d * x + inverse.e * y + inverse.f
    finite = np.isfinite(col_f) & np.isfinite(row_f)
    cols = np.floor(np.where(finite, col_f, -1.0)).astype(np.int64)
    rows = np.floor(np.where(finite, row_f, -1.0)).astype(np.int64)
    inside = finite & (rows >= 0) & (rows < shape[0]) & (cols >= 0) & (cols < shape[1])
    return rows, cols, inside


def _points(
    settlements: Any, villages: Any, crs: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Village code, x, y, households of every point to sample, in ``crs``."""
    target = CRS.from_user_input(crs)
    frames = []
    codes = {str(c) for c in villages["village_code"]}
    if settlements is not None and len(settlements):
        pts = settlements
        if pts.crs is not None and not CRS.from_user_input(pts.crs).equals(target):
            pts = pts.to_crs(target)
        keep = pts["village_code"].astype(str).isin(codes).to_numpy()
        if not keep.all():
            logger.warning(
                "%d settlement(s) belong to no known village and are ignored", int((~keep).sum())
            )
        pts = pts[keep]
        frames.append(
            pd.DataFrame(
                {
                    "village_code": pts["village_code"].astype(str).to_numpy(dtype=object),
                    "x": np.asarray(pts.geometry.x, dtype=np.float64),
                    "y": np.asarray(pts.geometry.y, dtype=np.float64),
                    "households": _float_column(pts, "households"),
                }
            )
        )
        with_points = set(frames[0]["village_code"])
    else:
        with_points = set()
    missing = villages[~villages["village_code"].astype(str).isin(with_points)]
    if len(missing):
        vil = missing
        if vil.crs is not None and not CRS.from_user_input(vil.crs).equals(target):
            vil = vil.to_crs(target)
        rep = vil.geometry.representative_point()
        frames.append(
            pd.DataFrame(
                {
                    "village_code": vil["village_code"].astype(str).to_numpy(dtype=object),
                    "x": np.asarray(rep.x, dtype=np.float64),
                    "y": np.asarray(rep.y, dtype=np.float64),
                    "households": _float_column(vil, "households"),
                }
            )
        )
    table = pd.concat(frames, ignore_index=True)
    return (
        table["village_code"].to_numpy(dtype=object),
        table["x"].to_numpy(dtype=np.float64),
        table["y"].to_numpy(dtype=np.float64),
        table["households"].to_numpy(dtype=np.float64),
    )


def _float_column(frame: Any, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    return np.asarray(
        pd.to_numeric(frame[column], errors="coerce").astype("float64").to_numpy(na_value=np.nan),
        dtype=np.float64,
    )


def village_reception(
    settlements_gdf: Any,
    villages_gdf: Any,
    rsrp: np.ndarray,
    best_site: np.ndarray,
    site_ids: Sequence[str],
    transform: Any,
    crs: Any,
    scenario: Scenario,
    *,
    unknown: np.ndarray | None = None,
) -> pd.DataFrame:
    """Modelled coverage of each village.

    Parameters
    ----------
    settlements_gdf
        Settlement points with ``village_code`` and ``households`` (may be
        ``None`` or empty: every village then uses its representative point).
    villages_gdf
        Village polygons with ``village_code`` and ``households``; one output
        row per village, in this order.
    rsrp
        Best-server RSRP, dBm, shape ``(rows, cols)``; NaN where no site
        reaches or the signal is unknown.
    best_site
        Index into ``site_ids`` of the best server; :data:`BEST_SITE_NONE`
        (-1) where no site reaches, :data:`BEST_SITE_UNKNOWN` (-2) where the
        signal is unknown.
    site_ids
        Site identifiers.
    transform, crs
        The rasters' affine transform and CRS; points in another CRS are
        reprojected.
    scenario
        Supplies ``threshold_dbm`` and ``covered_share``.
    unknown
        Optional boolean mask of unknown cells (terrain nodata), in addition
        to :data:`BEST_SITE_UNKNOWN`.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`RECEPTION_COLUMNS`: ``village_code`` (str),
        ``households`` (float, NaN if unknown), ``households_covered``
        (float), ``share_covered`` (float: served weight over all weight,
        unknown points counted as unserved), ``best_rsrp_dbm`` (float, NaN if
        no point has a signal), ``best_server`` (site id serving the largest
        weight of points with a signal, ties to the strongest; ``None`` if
        none) and ``modelled_status`` (``covered``, ``uncovered`` or
        ``unknown``).
    """
    rsrp = np.asarray(rsrp)
    best_site = np.asarray(best_site)
    if rsrp.shape != best_site.shape or rsrp.ndim != 2:
        raise ParameterError(f"rsrp {rsrp.shape} and best_site {best_site.shape} must be equal 2-D")
    if unknown is not None and np.shape(unknown) != rsrp.shape:
        raise ParameterError(f"unknown mask {np.shape(unknown)} does not match rsrp {rsrp.shape}")
    site_ids = [str(s) for s in site_ids]

    codes, x, y, households = _points(settlements_gdf, villages_gdf, crs)
    rows, cols, inside = sample_cells(x, y, transform, rsrp.shape)
    r = np.where(inside, rows, 0)
    c = np.where(inside, cols, 0)
    value = np.where(inside, rsrp[r, c].astype(np.float64), np.nan)
    server = np.where(inside, best_site[r, c].astype(np.int64), BEST_SITE_UNKNOWN)
    is_unknown = ~inside | (server <= BEST_SITE_UNKNOWN)
    if unknown is not None:
        is_unknown |= inside & np.asarray(unknown, dtype=bool)[r, c]
    if (~is_unknown & np.isnan(value) & (server >= 0)).any():
        logger.warning("cells with a best server but no RSRP are treated as unknown")
        is_unknown |= np.isnan(value) & (server >= 0)
    state = np.where(
        is_unknown,
        _UNKNOWN,
        np.where(np.nan_to_num(value, nan=-np.inf) >= scenario.threshold_dbm, _SERVED, _UNSERVED),
    )
    points = pd.DataFrame(
        {
            "village_code": codes,
            "households": households,
            "rsrp": np.where(is_unknown, np.nan, value),
            "server": np.where(is_unknown, -1, server),
            "state": state,
        }
    )
    groups = dict(tuple(points.groupby("village_code", sort=False)))

    records = []
    for code in villages_gdf["village_code"].astype(str):
        records.append(_village_record(code, groups.get(code), site_ids, scenario.covered_share))
    return pd.DataFrame.from_records(records, columns=list(RECEPTION_COLUMNS)).astype(
        {
            "village_code": "str",
            "households": "float64",
            "households_covered": "float64",
            "share_covered": "float64",
            "best_rsrp_dbm": "float64",
            "best_server": "object",
            "modelled_status": "str",
        }
    )


def signal_reception(dataset: Any, signal: Any, scenario: Scenario) -> pd.DataFrame:
    """:func:`village_reception` of a dataset's villages under a computed signal.

    ``dataset`` has ``settlements`` and ``villages`` (a
    :class:`covgap.data.dataset.Dataset`), ``signal`` is a
    :class:`covgap.radio.signal.SignalResult`.
    """
    return village_reception(
        dataset.settlements,
        dataset.villages,
        signal.rsrp,
        signal.best_site,
        signal.site_ids,
        signal.transform,
        signal.crs,
        scenario,
    )


def _village_record(
    code: str, pts: pd.DataFrame | None, site_ids: list[str], cut: float
) -> dict[str, Any]:
    if pts is None or not len(pts):  # pragma: no cover - every village has a point
        return {
            "village_code": code,
            "households": math.nan,
            "households_covered": math.nan,
            "share_covered": math.nan,
            "best_rsrp_dbm": math.nan,
            "best_server": None,
            "modelled_status": "unknown",
        }
    hh = pts["households"].to_numpy(dtype=np.float64)
    state = pts["state"].to_numpy()
    known_hh = np.isfinite(hh) & (hh >= 0)
    households = float(hh[known_hh].sum()) if known_hh.any() else math.nan
    served = state == _SERVED
    households_covered = float(hh[known_hh & served].sum()) if known_hh.any() else math.nan
    # Weights: households when every point has a count and they sum to > 0, else equal.
    weights = hh if known_hh.all() and hh.sum() > 0 else np.ones(len(hh))
    total = float(weights.sum())
    s = float(weights[served].sum())
    u = float(weights[state == _UNKNOWN].sum())
    share = s / total
    if share >= cut:
        status = "covered"
    elif (s + u) / total < cut:
        status = "uncovered"
    else:
        status = "unknown"

    rsrp = pts["rsrp"].to_numpy(dtype=np.float64)
    has_signal = np.isfinite(rsrp)
    best_rsrp = float(np.nanmax(rsrp)) if has_signal.any() else math.nan
    best_server = None
    if has_signal.any():
        servers = pts["server"].to_numpy()[has_signal]
        w = weights[has_signal]
        strongest = rsrp[has_signal]
        score: dict[int, tuple[float, float]] = {}
        for site, weight, level in zip(servers, w, strongest, strict=True):
            old_w, old_level = score.get(int(site), (0.0, -math.inf))
            score[int(site)] = (old_w + float(weight), max(old_level, float(level)))
        site = max(score, key=lambda k: score[k])
        best_server = site_ids[site] if 0 <= site < len(site_ids) else None
    return {
        "village_code": code,
        "households": households,
        "households_covered": households_covered,
        "share_covered": share,
        "best_rsrp_dbm": best_rsrp,
        "best_server": best_server,
        "modelled_status": status,
    }


@dataclass(frozen=True)
class SurveyComparison:
    """Model against survey, village by village.

    Attributes
    ----------
    confusion
        Counts keyed by survey answer then model status:
        ``{"survey_yes": {"covered": n, "uncovered": n, "unknown": n},
        "survey_no": {...}, "survey_unknown": {...}}``.  The 2x2 core is
        the ``covered``/``uncovered`` columns of the ``survey_yes``/``survey_no`` rows.
    compared
        Villages where both the survey and the model are known.
    agreement
        Share of ``compared`` villages where they agree (NaN if none).
    disagreements
        Sorted codes of the compared villages where they differ.
    missed
        Sorted codes: survey reports signal, model says uncovered.
    overstated
        Sorted codes: survey reports no signal, model says covered.
    """

    confusion: dict[str, dict[str, int]]
    compared: int
    agreement: float
    disagreements: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    overstated: list[str] = field(default_factory=list)

    @property
    def matrix(self) -> np.ndarray:
        """The 2x2 matrix: rows survey yes/no, columns model covered/uncovered."""
        return np.array(
            [
                [self.confusion[row][col] for col in ("covered", "uncovered")]
                for row in ("survey_yes", "survey_no")
            ],
            dtype=np.int64,
        )

    def to_summary(self) -> dict[str, Any]:
        """JSON-ready dict for ``summary.json`` under ``model``.

        ``agreement`` is ``None`` when no village could be compared.
        """
        return {
            "agreement": None if math.isnan(self.agreement) else self.agreement,
            "disagreements": list(self.disagreements),
            "confusion": {row: dict(cols) for row, cols in self.confusion.items()},
            "compared": self.compared,
        }


def compare_with_survey(
    reception_df: pd.DataFrame, survey_df: pd.DataFrame | None
) -> SurveyComparison:
    """Confusion matrix and disagreements between modelled status and survey.

    Parameters
    ----------
    reception_df
        Output of :func:`village_reception` (``village_code``,
        ``modelled_status``); defines the villages compared.
    survey_df
        ``village_code`` and ``mobile_signal`` (pandas ``boolean``; ``<NA>``
        unknown), or ``None``.  Villages absent from it count as survey
        unknown; survey rows for villages not in ``reception_df`` are ignored.

    Returns
    -------
    SurveyComparison
    """
    model = reception_df[["village_code", "modelled_status"]].copy()
    model["village_code"] = model["village_code"].astype(str)
    if survey_df is None or not len(survey_df):
        answers = pd.Series(dtype="boolean")
    else:
        survey = survey_df[["village_code", "mobile_signal"]].copy()
        survey["village_code"] = survey["village_code"].astype(str)
        if survey["village_code"].duplicated().any():
            logger.warning("survey has duplicate village codes; the first row of each is used")
            survey = survey.drop_duplicates("village_code", keep="first")
        answers = pd.Series(
            pd.array(survey["mobile_signal"].tolist(), dtype="boolean"),
            index=survey["village_code"].to_numpy(dtype=object),
        )
    confusion = {
        row: {"covered": 0, "uncovered": 0, "unknown": 0}
        for row in ("survey_yes", "survey_no", "survey_unknown")
    }
    disagreements: list[str] = []
    missed: list[str] = []
    overstated: list[str] = []
    agree = 0
    for code, status in zip(model["village_code"], model["modelled_status"], strict=True):
        answer = answers.get(code, pd.NA)
        known = answer is not pd.NA
        row = ("survey_yes" if bool(answer) else "survey_no") if known else "survey_unknown"
        col = status if status in ("covered", "uncovered") else "unknown"
        confusion[row][col] += 1
        if row == "survey_unknown" or col == "unknown":
            continue
        if (row == "survey_yes") == (col == "covered"):
            agree += 1
        else:
            disagreements.append(code)
            (missed if row == "survey_yes" else overstated).append(code)
    compared = sum(
        confusion[r][c] for r in ("survey_yes", "survey_no") for c in ("covered", "uncovered")
    )
    return SurveyComparison(
        confusion=confusion,
        compared=compared,
        agreement=agree / compared if compared else math.nan,
        disagreements=sorted(disagreements),
        missed=sorted(missed),
        overstated=sorted(overstated),
    )
