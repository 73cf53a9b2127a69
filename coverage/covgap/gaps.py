"""Village status table and gap lists: who lacks mobile coverage, grid power, or both.

:func:`find_gaps` joins the villages with their power and survey status.  A
village's coverage status comes from :func:`coverage_status`; today that is
the survey's answer (``unknown`` where the survey is silent), and a later
stage adds modelled coverage there.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from covgap.data.dataset import Dataset

__all__ = ["Gaps", "coverage_status", "find_gaps", "power_status"]

log = logging.getLogger(__name__)

COVERAGE_STATUSES = ("covered", "uncovered", "unknown")
POWER_STATUSES = ("powered", "unpowered", "unknown")


def coverage_status(mobile_signal: Any) -> str:
    """Return ``covered``, ``uncovered`` or ``unknown`` for a village.

    Parameters
    ----------
    mobile_signal
        The survey's answer: ``True``, ``False`` or missing (``None``/``<NA>``).
    """
    if mobile_signal is None or mobile_signal is pd.NA:
        return "unknown"
    return "covered" if bool(mobile_signal) else "uncovered"


def power_status(grid_power: Any) -> str:
    """Return ``powered``, ``unpowered`` or ``unknown`` for a village's grid power."""
    if grid_power is None or grid_power is pd.NA:
        return "unknown"
    return "powered" if bool(grid_power) else "unpowered"


@dataclass
class Gaps:
    """The village status table and the gap lists.

    Attributes
    ----------
    villages
        Village columns plus ``commune_name``, ``grid_power``,
        ``households_unpowered``, ``mobile_signal``, ``coverage_status`` and
        ``power_status``, in the dataset's metric CRS.
    uncovered, unpowered, uncovered_and_unpowered
        Sorted village codes.
    """

    villages: gpd.GeoDataFrame
    uncovered: list[str]
    unpowered: list[str]
    uncovered_and_unpowered: list[str]

    def summary(self) -> dict[str, Any]:
        """Return counts and lists, JSON-ready.

        Keys: ``villages``, ``uncovered``, ``unelectrified``,
        ``uncovered_and_unelectrified``, ``coverage_unknown``,
        ``power_unknown`` (integers); ``uncovered_villages``,
        ``unelectrified_villages``, ``uncovered_and_unelectrified_villages``
        (sorted codes); ``communes`` (per-commune counts, by commune code);
        ``power_estimated`` (how many power statuses are estimated, not
        reported) when the power table says which are.
        """
        v = self.villages
        communes = []
        for code, group in v.groupby("commune_code", sort=True):
            communes.append(
                {
                    "commune_code": str(code),
                    "commune_name": str(group["commune_name"].iloc[0]),
                    "villages": len(group),
                    "uncovered": int((group["coverage_status"] == "uncovered").sum()),
                    "unelectrified": int((group["power_status"] == "unpowered").sum()),
                    "uncovered_and_unelectrified": int(
                        (
                            (group["coverage_status"] == "uncovered")
                            & (group["power_status"] == "unpowered")
                        ).sum()
                    ),
                }
            )
        return {
            "villages": len(v),
            "uncovered": len(self.uncovered),
            "unelectrified": len(self.unpowered),
            "uncovered_and_unelectrified": len(self.uncovered_and_unpowered),
            "coverage_unknown": int((v["coverage_status"] == "unknown").sum()),
            "power_unknown": int((v["power_status"] == "unknown").sum()),
            "uncovered_villages": list(self.uncovered),
            "unelectrified_villages": list(self.unpowered),
            "uncovered_and_unelectrified_villages": list(self.uncovered_and_unpowered),
            "communes": communes,
            **(
                {"power_estimated": int(v["power_estimated"].sum())}
                if "power_estimated" in v.columns
                else {}
            ),
        }


def find_gaps(dataset: Dataset, reception: pd.DataFrame | None = None) -> Gaps:
    """Build the village status table and the gap lists of a dataset.

    A village's coverage status is the survey's answer where the survey has
    one; otherwise the terrain model's (``reception``), if given; otherwise
    ``unknown``.  The column ``coverage_source`` says which.

    Parameters
    ----------
    dataset
        A loaded dataset.
    reception
        Modelled village coverage from :func:`covgap.radio.reception.village_reception`
        (``village_code``, ``share_covered``, ``best_rsrp_dbm``,
        ``best_server``, ``modelled_status``), or ``None``.

    Returns
    -------
    Gaps
        One row per village (villages without a status row are ``unknown``).
    """
    villages = dataset.villages.copy()
    names = dict(
        zip(dataset.communes["commune_code"], dataset.communes["commune_name"], strict=True)
    )
    villages["commune_name"] = villages["commune_code"].map(names)

    power = dataset.power.set_index("village_code")
    villages["grid_power"] = pd.array(
        villages["village_code"].map(power["grid_power"]), dtype="boolean"
    )
    villages["households_unpowered"] = (
        villages["village_code"].map(power["households_unpowered"]).astype(float)
    )
    if "power_estimated" in power.columns:
        # statuses estimated by ``covgap prepare`` are flagged, never mixed silently
        estimated = villages["village_code"].map(power["power_estimated"])
        villages["power_estimated"] = pd.array(estimated, dtype="boolean").fillna(False)
    if dataset.survey is not None:
        signal = dataset.survey.set_index("village_code")["mobile_signal"]
        villages["mobile_signal"] = pd.array(villages["village_code"].map(signal), dtype="boolean")
    else:
        villages["mobile_signal"] = pd.array([pd.NA] * len(villages), dtype="boolean")

    villages["coverage_status"] = [coverage_status(v) for v in villages["mobile_signal"]]
    villages["coverage_source"] = np.where(villages["mobile_signal"].isna(), "none", "survey")
    if reception is not None:
        model = reception.set_index("village_code")
        for column in ("share_covered", "best_rsrp_dbm", "best_server", "modelled_status"):
            villages[column] = villages["village_code"].map(model[column])
        use_model = (villages["coverage_source"] == "none") & villages["modelled_status"].isin(
            ["covered", "uncovered"]
        )
        villages.loc[use_model, "coverage_status"] = villages.loc[use_model, "modelled_status"]
        villages.loc[use_model, "coverage_source"] = "model"
    villages["power_status"] = [power_status(v) for v in villages["grid_power"]]

    uncovered = sorted(villages.loc[villages["coverage_status"] == "uncovered", "village_code"])
    unpowered = sorted(villages.loc[villages["power_status"] == "unpowered", "village_code"])
    both = sorted(set(uncovered) & set(unpowered))
    log.info(
        "%d villages: %d uncovered, %d unpowered, %d both",
        len(villages),
        len(uncovered),
        len(unpowered),
        len(both),
    )
    return Gaps(
        villages=villages,
        uncovered=uncovered,
        unpowered=unpowered,
        uncovered_and_unpowered=both,
    )
