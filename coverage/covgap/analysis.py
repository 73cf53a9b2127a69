"""One analysis of a dataset: load, model coverage over terrain, find gaps.

:func:`analyse` runs the stages in the order data flows and keeps every
intermediate result on the returned :class:`Analysis`, so a notebook can look
at each one and the CLI can publish them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from covgap.data.dataset import Dataset, load_dataset
from covgap.gaps import Gaps, find_gaps
from covgap.radio.scenario import Scenario, as_scenario

if TYPE_CHECKING:
    import geopandas as gpd
    from matplotlib.figure import Figure

    from covgap.data.terrain import Terrain
    from covgap.executor import Executor
    from covgap.planning.siteplan import SitePlan
    from covgap.radio.reception import SurveyComparison
    from covgap.radio.signal import SignalResult
    from covgap.sensitivity import Sensitivity

__all__ = ["Analysis", "analyse"]

log = logging.getLogger(__name__)


@dataclass
class Analysis:
    """The results of :func:`analyse`.

    Attributes
    ----------
    dataset
        The loaded dataset.
    scenario
        Radio settings used by the terrain model.
    gaps
        Village status table and gap lists (survey first, model where the
        survey is silent).
    terrain
        The DEM in the analysis CRS, or ``None`` when the model was not run.
    signal
        Best-server signal of the existing sites, or ``None``.
    reception
        Modelled coverage per village, or ``None``.
    comparison
        Model against survey, or ``None``.
    measurements
        Model against ``survey/measurements.csv`` (``n``, ``mean_error_db``,
        ``rmse_db``, ``bad_rows``; see :func:`covgap.radio.calibration.measurement_error`),
        or ``None`` when the dataset has none.
    warnings
        Problems met while modelling (in addition to ``dataset.warnings``).
    executor
        Where the heavy stages ran and where :func:`~covgap.siteplan.plan_sites`
        and :func:`~covgap.sensitivity.sensitivity` run them by default
        (``None``: this process).
    """

    dataset: Dataset
    scenario: Scenario
    gaps: Gaps
    terrain: Terrain | None = None
    signal: SignalResult | None = None
    reception: pd.DataFrame | None = None
    comparison: SurveyComparison | None = None
    warnings: list[str] = field(default_factory=list)
    measurements: dict[str, Any] | None = None
    executor: Executor | None = field(default=None, repr=False, compare=False)

    def summary(self) -> dict[str, Any]:
        """Return the JSON-ready summary of the analysis (``summary.json``)."""
        ds = self.dataset
        out: dict[str, Any] = {
            "dataset": ds.name,
            "title": ds.title,
            "synthetic": bool(ds.synthetic),
            "crs": ds.crs.to_string(),
        }
        out.update(self.gaps.summary())
        out["unmatched_rows"] = list(ds.unmatched_rows)
        out["missing_status"] = {k: list(v) for k, v in ds.missing_status.items()}
        if self.comparison is not None:
            model = self.comparison.to_summary()
            model["scenario"] = self.scenario.name
            model["propagation_model"] = self.scenario.propagation_model
            model["threshold_dbm"] = self.scenario.threshold_dbm
            model["covered_share"] = self.scenario.covered_share
            model["modelled_uncovered"] = sorted(
                self.reception.loc[
                    self.reception["modelled_status"] == "uncovered", "village_code"
                ].astype(str)
            )
            out["model"] = model
        if self.measurements is not None:
            out.setdefault("model", {})["measurements"] = self.measurements
        out["warnings"] = list(ds.warnings) + list(self.warnings)
        return out

    def _repr_html_(self) -> str:
        from covgap.publish.notebook import analysis_html

        return analysis_html(self)

    # -- notebook API: tables, map, plots, export --------------------------
    @property
    def villages(self) -> gpd.GeoDataFrame:
        """Every village with its status (``gaps.villages``)."""
        return self.gaps.villages

    @property
    def communes(self) -> gpd.GeoDataFrame:
        """Commune polygons (``dataset.communes``)."""
        return self.dataset.communes

    @property
    def sites(self) -> gpd.GeoDataFrame:
        """Existing tower sites (``dataset.sites``)."""
        return self.dataset.sites

    def map(
        self,
        plan: SitePlan | None = None,
        *,
        lang: str = "vi",
        sensitivity: Sensitivity | None = None,
    ) -> Any:
        """Build the interactive gap map (it shows itself inline in Jupyter).

        Returns :func:`covgap.publish.webmap.build_map`'s map object.

        Parameters
        ----------
        plan
            A site plan to draw as numbered markers.
        lang
            ``"vi"`` or ``"en"``.
        sensitivity
            Adds ``status_uncertain`` to the village popups' data.
        """
        from covgap.publish.notebook import analysis_map

        return analysis_map(self, plan, lang=lang, sensitivity=sensitivity)

    def plot_status(self, **kwargs: Any) -> Figure:
        """Chart the villages per commune by coverage x power status (matplotlib)."""
        from covgap.publish.plots import status_chart

        return status_chart(self, **kwargs)

    def plot_map(
        self, plan: SitePlan | None = None, sensitivity: Sensitivity | None = None, **kwargs: Any
    ) -> Figure:
        """Draw the static map for reports: communes, villages by status, towers, plan."""
        from covgap.publish.plots import plan_map

        return plan_map(self, plan, sensitivity=sensitivity, **kwargs)

    def export(
        self,
        out_dir: str | Path,
        plan: SitePlan | None = None,
        *,
        lang: str = "vi",
        plots: bool = True,
    ) -> list[Path]:
        """Write what ``covgap run`` writes (lists, map, summary, plots) into ``out_dir``.

        Returns
        -------
        list of Path
            The files written.
        """
        from covgap.publish import publish_run

        return list(publish_run(self, out_dir, lang=lang, plan=plan, plots=plots).files)


def _signal(
    terrain: Terrain,
    sites: Any,
    settings: Scenario,
    progress: bool,
    executor: Executor | None = None,
) -> SignalResult:
    """Best-server signal of ``sites``, with a progress bar over the sites if asked."""
    from covgap import progress as progress_mod
    from covgap.radio.signal import compute_signal

    if not progress:
        return compute_signal(terrain, sites, settings, executor=executor)
    with progress_mod.bar(
        total=len(sites), desc="terrain model", unit="site", progress=True
    ) as pbar:
        return compute_signal(terrain, sites, settings, on_progress=pbar.update, executor=executor)


def analyse(
    data: Dataset | str | Path,
    *,
    scenario: Scenario | str | Path | None = None,
    crs: str | None = None,
    model: bool = True,
    progress: bool | None = None,
    executor: Executor | None = None,
) -> Analysis:
    """Analyse a dataset: gaps from the survey, coverage from the terrain model.

    Parameters
    ----------
    data
        A dataset folder or an already loaded :class:`~covgap.data.dataset.Dataset`.
    scenario
        Radio scenario (object or TOML path); default: the packaged scenario.
    crs
        Metric analysis CRS when loading from a folder (default: UTM zone).
    model
        Run the terrain coverage model (needs a DEM and at least one site).
    progress
        Show a progress bar over the terrain model's sites; ``None`` follows
        :func:`covgap.progress.enable` (off by default).
    executor
        Where the terrain model's batches of sites run: ``None`` (this
        process), or a :class:`covgap.executor.DaskExecutor` from
        :func:`covgap.executor.dask_executor`.  Kept on the analysis for
        :func:`~covgap.siteplan.plan_sites` and
        :func:`~covgap.sensitivity.sensitivity`.  The results are the same
        bytes whatever the executor.

    Returns
    -------
    Analysis

    Examples
    --------
    >>> from covgap.executor import dask_executor
    >>> with dask_executor(workers=2) as ex:  # doctest: +SKIP
    ...     analysis = analyse("data", executor=ex)
    ...     plan = plan_sites(analysis, k=10)
    ...     stability = sensitivity(analysis)
    """
    dataset = data if isinstance(data, Dataset) else load_dataset(data, crs=crs)
    settings = as_scenario(scenario)
    analysis = Analysis(
        dataset=dataset, scenario=settings, gaps=find_gaps(dataset), executor=executor
    )
    if not model:
        return analysis
    if dataset.dem_path is None:
        analysis.warnings.append("no DEM (terrain/dem.tif): coverage was not modelled")
        return analysis
    if len(dataset.sites) == 0:
        analysis.warnings.append("no tower sites: coverage was not modelled")
        return analysis

    from covgap.data.terrain import check_coverage, load_terrain
    from covgap.progress import resolve
    from covgap.radio.reception import compare_with_survey, signal_reception

    terrain = load_terrain(dataset.dem_path, crs=dataset.crs)
    if dataset.landcover_path is not None:
        from covgap.radio.landcover import with_landcover

        terrain, notes = with_landcover(terrain, dataset.landcover_path)
        analysis.warnings.extend(notes)
    sites = dataset.sites
    analysis.warnings.extend(
        check_coverage(
            terrain,
            list(zip(sites["site_id"], sites.geometry.x, sites.geometry.y, strict=True)),
            settings.radius_m,
            log=False,  # compute_signal logs them
        )
    )
    log.info("modelling coverage of %d sites over a %s DEM", len(sites), terrain.shape)
    signal = _signal(terrain, sites, settings, resolve(progress), executor)
    reception = signal_reception(dataset, signal, settings)
    analysis.terrain = terrain
    analysis.signal = signal
    analysis.reception = reception
    analysis.comparison = compare_with_survey(reception, dataset.survey)
    analysis.gaps = find_gaps(dataset, reception=reception)
    if dataset.measurements_path is not None:
        from covgap.data.dataset import FILES
        from covgap.data.measurements import read_measurements
        from covgap.radio.calibration import measurement_error

        measurements = read_measurements(
            dataset.measurements_path,
            operators=sorted(set(sites["operator"].astype(str))),
            name=FILES["measurements"],
        )
        analysis.measurements = measurement_error(terrain, sites, settings, measurements)
        if analysis.measurements["bad_rows"]:
            analysis.warnings.append(
                f"{FILES['measurements']}: {len(analysis.measurements['bad_rows'])} row(s) not "
                "used (listed in summary.json under model.measurements.bad_rows)"
            )
    return analysis
