"""How stable each village's modelled coverage is when the radio assumptions move.

:func:`sensitivity` re-runs the coverage model of an
:class:`~covgap.analysis.Analysis` one assumption at a time (one-at-a-time
variation around the analysis's scenario) and reports, for every village,
its modelled status under each variant.  A village whose status differs
from the base status under at least one variant is *uncertain*
(``status_uncertain``): the model's answer for it hangs on an assumption
within its plausible range, so a field check is worth more there than
anywhere else.

Default variants (:func:`default_variants`; ranges and sources in
``docs/scenarios.md``):

=================  ===============================  ==========================
parameter          variants                         cost
=================  ===============================  ==========================
threshold_dbm      base - 5 dB, base + 5 dB         re-threshold (no kernel)
k_factor           1.0, inf (flat earth)            one terrain-kernel run each
receiver_height_m  3.0 m                            one terrain-kernel run
mast height        every site - 10 m, + 10 m        one terrain-kernel run each
=================  ===============================  ==========================

The mast variant shifts every antenna height (recorded heights from
``sites.csv`` and the scenario default alike), floored at 5 m.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from covgap.errors import ConfigError, CoverageError

if TYPE_CHECKING:
    from covgap.analysis import Analysis
    from covgap.executor import Executor
    from covgap.radio.scenario import Scenario
    from covgap.radio.signal import SignalResult

__all__ = [
    "PARAMETERS",
    "Sensitivity",
    "Variant",
    "default_variants",
    "sensitivity",
]

log = logging.getLogger(__name__)

#: Parameters a variant may change, and whether its value is an offset.
PARAMETERS: dict[str, bool] = {
    "threshold_dbm": True,
    "k_factor": False,
    "receiver_height_m": False,
    "mast_height_m": True,
}

#: Lowest antenna height a mast variant may give, m.
MIN_MAST_M = 5.0


@dataclass(frozen=True)
class Variant:
    """One change of one assumption.

    Attributes
    ----------
    name
        Column-safe label, e.g. ``threshold_-5dB``.
    parameter
        A key of :data:`PARAMETERS`.
    value
        New value, or the offset from the base for ``threshold_dbm`` and
        ``mast_height_m`` (dB, m).
    """

    name: str
    parameter: str
    value: float

    def __post_init__(self) -> None:
        if self.parameter not in PARAMETERS:
            raise ConfigError(
                f"variant {self.name!r}: unknown parameter {self.parameter!r}; "
                f"expected one of {', '.join(PARAMETERS)}"
            )

    @property
    def offset(self) -> bool:
        """Whether ``value`` is an offset from the base."""
        return PARAMETERS[self.parameter]

    def describe(self, base: Scenario) -> str:
        """Say what changes, e.g. ``threshold -110 -> -115 dBm``."""
        if self.parameter == "threshold_dbm":
            return f"threshold {base.threshold_dbm:g} -> {base.threshold_dbm + self.value:g} dBm"
        if self.parameter == "k_factor":
            new = "inf (flat earth)" if math.isinf(self.value) else f"{self.value:g}"
            return f"k-factor {base.k_factor:.3g} -> {new}"
        if self.parameter == "receiver_height_m":
            return f"receiver height {base.receiver_height_m:g} -> {self.value:g} m"
        return f"every mast {self.value:+g} m (at least {MIN_MAST_M:g} m)"


def default_variants() -> list[Variant]:
    """Return the documented one-at-a-time variants (see the module docstring)."""
    return [
        Variant("threshold_-5dB", "threshold_dbm", -5.0),
        Variant("threshold_+5dB", "threshold_dbm", 5.0),
        Variant("k_1", "k_factor", 1.0),
        Variant("k_inf", "k_factor", math.inf),
        Variant("receiver_3m", "receiver_height_m", 3.0),
        Variant("mast_-10m", "mast_height_m", -10.0),
        Variant("mast_+10m", "mast_height_m", 10.0),
    ]


@dataclass
class Sensitivity:
    """Modelled village status under each variant.

    Attributes
    ----------
    scenario
        The base scenario.
    variants
        One row per variant: ``variant``, ``parameter``, ``value``,
        ``changed`` (text), ``flipped`` (villages whose status differs from
        the base).
    villages
        One row per village: ``village_code``, ``village_name``,
        ``commune_name``, ``coverage_status`` and ``coverage_source`` (the
        analysis's answer, survey first), ``base_status`` (modelled),
        ``share_covered``, ``best_rsrp_dbm``, one ``status_<variant>`` column
        per variant, ``flips`` (list of the variants that change the modelled
        status), ``n_flips`` and ``status_uncertain`` (bool).
    """

    scenario: Scenario
    variants: pd.DataFrame
    villages: pd.DataFrame

    @property
    def uncertain(self) -> list[str]:
        """Sorted codes of the villages whose modelled status flips under some variant."""
        return sorted(self.villages.loc[self.villages["status_uncertain"], "village_code"])

    def mark(self, table: pd.DataFrame) -> pd.DataFrame:
        """Return a copy of a village table with the ``status_uncertain`` column (bool)."""
        flags = dict(
            zip(self.villages["village_code"], self.villages["status_uncertain"], strict=True)
        )
        out = table.copy()
        out["status_uncertain"] = (
            out["village_code"].astype(str).map(flags).fillna(False).astype(bool)
        )
        return out

    def export(self, out_dir: str | Path, *, name: str = "sensitivity") -> Path:
        """Write the village table as ``<name>.csv`` (UTF-8 with BOM) into ``out_dir``."""
        from covgap.files import write_csv

        table = self.villages.copy()
        table["best_rsrp_dbm"] = table["best_rsrp_dbm"].round(1)
        table["share_covered"] = table["share_covered"].round(4)
        return write_csv(Path(out_dir) / f"{name}.csv", table, list(table.columns))

    def _repr_html_(self) -> str:
        from covgap.publish.notebook import sensitivity_html

        return sensitivity_html(self)


def _variant_signal(
    analysis: Analysis, variant: Variant, scenario: Scenario, executor: Executor | None = None
) -> tuple[SignalResult, Scenario]:
    """Signal and scenario of one variant (the base signal when only the threshold moves)."""
    from covgap.radio.signal import compute_signal

    base = analysis.scenario
    sites = analysis.dataset.sites
    if variant.parameter == "threshold_dbm":
        threshold = base.threshold_dbm + variant.value
        good = max(base.threshold_good_dbm, threshold)
        assert analysis.signal is not None
        return analysis.signal, base.with_overrides(
            threshold_dbm=threshold, threshold_good_dbm=good
        )
    if variant.parameter == "mast_height_m":
        heights = sites["height_m"].astype("float64").fillna(base.mast_height_m)
        sites = sites.assign(height_m=(heights + variant.value).clip(lower=MIN_MAST_M))
        scenario = base.with_overrides(
            mast_height_m=max(base.mast_height_m + variant.value, MIN_MAST_M)
        )
    else:
        scenario = base.with_overrides(**{variant.parameter: variant.value})
    return compute_signal(analysis.terrain, sites, scenario, executor=executor), scenario


def sensitivity(
    analysis: Analysis,
    variants: list[Variant] | None = None,
    *,
    progress: bool | None = None,
    executor: Executor | None = None,
) -> Sensitivity:
    """Vary the radio assumptions one at a time and find the uncertain villages.

    Parameters
    ----------
    analysis
        An analysis whose terrain model ran.
    variants
        The changes to try (default :func:`default_variants`).
    progress
        Progress bar over the variants; ``None`` follows :mod:`covgap.progress`.
    executor
        Where each variant's batches of sites run (:mod:`covgap.executor`);
        default: ``analysis.executor``, else this process.

    Returns
    -------
    Sensitivity

    Raises
    ------
    CoverageError
        When the terrain model did not run.
    """
    from covgap.progress import bar
    from covgap.radio.reception import signal_reception

    if analysis.terrain is None or analysis.signal is None or analysis.reception is None:
        raise CoverageError("sensitivity needs the terrain model (a DEM and existing sites)")
    variants = default_variants() if variants is None else list(variants)
    executor = executor if executor is not None else analysis.executor
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        raise ConfigError("variant names must be unique")
    ds = analysis.dataset
    base = analysis.reception.set_index("village_code")
    gaps = analysis.gaps.villages.set_index("village_code")
    communes = ds.communes.set_index("commune_code")["commune_name"]
    codes = [str(c) for c in analysis.reception["village_code"]]
    table = pd.DataFrame(
        {
            "village_code": codes,
            "village_name": gaps.loc[codes, "village_name"].astype(str).to_numpy(),
            "commune_name": gaps.loc[codes, "commune_code"].map(communes).astype(str).to_numpy(),
            "coverage_status": gaps.loc[codes, "coverage_status"].astype(str).to_numpy(),
            "coverage_source": gaps.loc[codes, "coverage_source"].astype(str).to_numpy()
            if "coverage_source" in gaps.columns
            else "",
            "base_status": base.loc[codes, "modelled_status"].astype(str).to_numpy(),
            "share_covered": base.loc[codes, "share_covered"].to_numpy(float),
            "best_rsrp_dbm": base.loc[codes, "best_rsrp_dbm"].to_numpy(float),
        }
    )
    rows: list[dict[str, Any]] = []
    flips = np.zeros((len(codes), len(variants)), dtype=bool)
    for i, variant in enumerate(
        bar(variants, desc="sensitivity", unit="variant", progress=progress)
    ):
        signal, scenario = _variant_signal(analysis, variant, analysis.scenario, executor)
        reception = signal_reception(ds, signal, scenario).set_index("village_code")
        status = reception.loc[codes, "modelled_status"].astype(str).to_numpy()
        table[f"status_{variant.name}"] = status
        flips[:, i] = status != table["base_status"].to_numpy()
        rows.append(
            {
                "variant": variant.name,
                "parameter": variant.parameter,
                "value": variant.value,
                "changed": variant.describe(analysis.scenario),
                "flipped": int(flips[:, i].sum()),
            }
        )
        log.info(
            "%s: %d village(s) change status",
            variant.describe(analysis.scenario),
            rows[-1]["flipped"],
        )
    table["flips"] = [[names[j] for j in np.flatnonzero(row)] for row in flips]
    table["n_flips"] = flips.sum(axis=1).astype(int)
    table["status_uncertain"] = flips.any(axis=1)
    variants_df = pd.DataFrame(
        rows, columns=["variant", "parameter", "value", "changed", "flipped"]
    )
    return Sensitivity(scenario=analysis.scenario, variants=variants_df, villages=table)
