"""Static figures (matplotlib) for notebooks and the run's output folder.

Four figures, each returned as a :class:`matplotlib.figure.Figure` (shown
inline by Jupyter) and written as PNG by :func:`write_plots`:

* :func:`coverage_curve_chart`: households covered against the number of
  new sites, the greedy curve with the exact optimum marked for each ``k``;
* :func:`cost_chart`: plan cost against households covered;
* :func:`status_chart`: villages per commune by coverage x power status;
* :func:`plan_map`: communes, villages by status, existing towers and the
  ranked planned sites, in the analysis CRS (metres), without web tiles.

Figures are built on :class:`~matplotlib.figure.Figure` directly (no pyplot
state, any backend), and PNGs are rendered by Agg without the software
version in their metadata, so the same inputs give byte-identical files.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from covgap.files import atomic_write_bytes
from covgap.publish.labels import label
from covgap.publish.webmap import OPERATOR_COLOURS, STATUS_COLOURS, village_state

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from covgap.analysis import Analysis
    from covgap.planning.siteplan import SitePlan
    from covgap.sensitivity import Sensitivity

__all__ = [
    "PLOT_FILES",
    "cost_chart",
    "coverage_curve_chart",
    "figure_png",
    "plan_map",
    "status_chart",
    "write_plots",
]

log = logging.getLogger(__name__)

#: File names written by :func:`write_plots`, by figure.
PLOT_FILES: dict[str, str] = {
    "coverage_curve": "plot_coverage_curve.png",
    "cost": "plot_cost_coverage.png",
    "status": "plot_village_status.png",
    "map": "plot_plan_map.png",
}

DPI = 110
_STATES = (
    "covered_powered",
    "covered_unpowered",
    "uncovered_powered",
    "uncovered_unpowered",
    "status_unknown",
)


def _t(key: str, lang: str) -> str:
    return label(f"plot_{key}", lang)


def _new_figure(width: float, height: float, ax: Axes | None) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def figure_png(fig: Figure) -> bytes:
    """Render a figure as PNG bytes, deterministically (no software version, fixed dpi)."""
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


# -- plan charts ---------------------------------------------------------------


def _plot_exact(ax: Axes, x: Any, y: Any, lang: str) -> None:
    """Draw the exact solver's points as open diamonds over the greedy curve."""
    ax.plot(
        x,
        y,
        linestyle="none",
        marker="D",
        markerfacecolor="none",
        markeredgecolor="#D55E00",
        markersize=9,
        label=_t("exact", lang),
    )


def coverage_curve_chart(
    plan: SitePlan, *, lang: str = "en", ax: Axes | None = None, exact: bool = True
) -> Figure:
    """Households covered against the number of new sites.

    Parameters
    ----------
    plan
        A site plan; its :meth:`~covgap.planning.siteplan.SitePlan.curve` is used.
    lang
        ``"en"`` or ``"vi"``.
    ax
        Draw into these axes instead of a new figure.
    exact
        Mark the exact optimum for each ``k``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = _new_figure(7.0, 4.2, ax)
    curve = plan.curve() if exact else plan.curve(exact=False)
    ax.plot(curve["k"], curve["greedy_households"], "-o", color="#0072B2", label=_t("greedy", lang))
    if "exact_households" in curve:
        _plot_exact(ax, curve["k"], curve["exact_households"], lang)
    demand = float(np.nansum(plan.demand["households"].to_numpy(float)))
    ax.axhline(demand, color="#999999", linestyle="--", linewidth=1, label=_t("demand", lang))
    if len(plan.plan):
        ax.plot(
            [len(plan.plan)],
            [plan.result.objective],
            marker="*",
            color="#000000",
            markersize=14,
            linestyle="none",
            label=f"{_t('chosen', lang)} ({plan.result.method})",
        )
    ax.set_xlabel(_t("sites", lang))
    ax.set_ylabel(_t("households", lang))
    ax.set_title(_t("curve_title", lang))
    ax.set_xticks(curve["k"].to_numpy())
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    return fig


def cost_chart(plan: SitePlan, *, lang: str = "en", ax: Axes | None = None) -> Figure:
    """Plan cost against households covered, for each number of sites.

    The greedy path adds one site at a time (cumulative cost); the exact
    optimum for each ``k`` is a separate plan, so its points need not lie on
    one path.  Points are labelled with ``k``.
    """
    fig, ax = _new_figure(7.0, 4.2, ax)
    curve = plan.curve()
    ax.plot(
        curve["greedy_cost_vnd"] / 1e9,
        curve["greedy_households"],
        "-o",
        color="#0072B2",
        label=_t("greedy", lang),
    )
    for k, x, y in zip(
        curve["k"], curve["greedy_cost_vnd"] / 1e9, curve["greedy_households"], strict=True
    ):
        ax.annotate(str(k), (x, y), textcoords="offset points", xytext=(-10, 4), fontsize=7)
    if "exact_households" in curve:
        _plot_exact(ax, curve["exact_cost_vnd"] / 1e9, curve["exact_households"], lang)
    if len(plan.plan):
        ax.plot(
            [float(plan.plan["cost_vnd"].sum()) / 1e9],
            [plan.result.objective],
            marker="*",
            color="#000000",
            markersize=14,
            linestyle="none",
            label=_t("chosen", lang),
        )
    ax.set_xlabel(_t("cost", lang))
    ax.set_ylabel(_t("households", lang))
    ax.set_title(_t("cost_title", lang))
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    return fig


# -- analysis charts -------------------------------------------------------------


def _states(villages: pd.DataFrame) -> pd.Series:
    return pd.Series(
        [
            village_state(str(c), str(p))
            for c, p in zip(villages["coverage_status"], villages["power_status"], strict=True)
        ],
        index=villages.index,
        dtype="str",
    )


def status_counts(analysis: Analysis) -> pd.DataFrame:
    """Villages per commune (rows, by name) and state (columns, :data:`STATUS_COLOURS` keys)."""
    villages = analysis.gaps.villages
    names = analysis.dataset.communes.set_index("commune_code")["commune_name"]
    frame = pd.DataFrame(
        {
            "commune": villages["commune_code"].map(names).fillna(villages["commune_code"]),
            "state": _states(villages),
        }
    )
    counts = frame.groupby(["commune", "state"]).size().unstack(fill_value=0)
    counts = counts.reindex(columns=list(_STATES), fill_value=0)
    return counts.sort_index(ascending=False)


def status_chart(analysis: Analysis, *, lang: str = "en", ax: Axes | None = None) -> Figure:
    """Villages per commune by coverage x power status (stacked horizontal bars)."""
    counts = status_counts(analysis)
    fig, ax = _new_figure(7.5, 0.35 * len(counts) + 1.8, ax)
    left = np.zeros(len(counts))
    y = np.arange(len(counts))
    for state in _STATES:
        values = counts[state].to_numpy(float)
        ax.barh(
            y,
            values,
            left=left,
            color=STATUS_COLOURS[state],
            edgecolor="white",
            label=label(state, lang),
        )
        left += values
    ax.set_yticks(y, [str(c) for c in counts.index])
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(_t("n_villages", lang))
    ax.set_title(_t("status_title", lang))
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, fontsize=8, frameon=False)
    return fig


def _polygons(ax: Axes, geoms: Any, **kwargs: Any) -> None:
    """Draw (multi)polygons with matplotlib patches (no geopandas plotting needed)."""
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path as MplPath

    patches = []
    for geom in geoms:
        if geom is None or geom.is_empty:
            continue
        parts = getattr(geom, "geoms", [geom])
        for poly in parts:
            if poly.geom_type != "Polygon":
                continue
            rings = [poly.exterior, *poly.interiors]
            verts = np.concatenate([np.asarray(r.coords)[:, :2] for r in rings])
            codes = np.concatenate(
                [
                    [MplPath.MOVETO] + [MplPath.LINETO] * (len(r.coords) - 2) + [MplPath.CLOSEPOLY]
                    for r in rings
                ]
            )
            patches.append(PathPatch(MplPath(verts, codes)))
    ax.add_collection(PatchCollection(patches, match_original=False, **kwargs))


def plan_map(
    analysis: Analysis,
    plan: SitePlan | None = None,
    *,
    sensitivity: Sensitivity | None = None,
    lang: str = "en",
    ax: Axes | None = None,
) -> Figure:
    """Draw the static map for reports: communes, villages by status, towers, plan.

    Drawn in the analysis CRS (metres, north up), without web tiles.
    Villages whose modelled status is uncertain (``sensitivity``) are hatched.
    """
    ds = analysis.dataset
    villages = analysis.gaps.villages
    fig, ax = _new_figure(8.0, 8.0, ax)
    states = _states(villages)
    handles = []
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    for state in _STATES:
        mask = (states == state).to_numpy()
        if mask.any():
            _polygons(
                ax,
                villages.geometry[mask],
                facecolor=STATUS_COLOURS[state],
                edgecolor="white",
                linewidth=0.3,
                alpha=0.85,
            )
        handles.append(Patch(facecolor=STATUS_COLOURS[state], label=label(state, lang)))
    if sensitivity is not None:
        uncertain = villages["village_code"].astype(str).isin(set(sensitivity.uncertain))
        if uncertain.any():
            _polygons(
                ax,
                villages.geometry[uncertain.to_numpy()],
                facecolor="none",
                edgecolor="#000000",
                linewidth=0.8,
                hatch="///",
            )
        handles.append(
            Patch(facecolor="none", edgecolor="#000000", hatch="///", label=_t("uncertain", lang))
        )
    _polygons(ax, ds.communes.geometry, facecolor="none", edgecolor="#333333", linewidth=1.2)
    for name, point in zip(
        ds.communes["commune_name"], ds.communes.geometry.representative_point(), strict=True
    ):
        ax.annotate(
            str(name), (point.x, point.y), ha="center", fontsize=7, color="#222222", alpha=0.8
        )
    sites = ds.sites
    if len(sites):
        for operator in sorted(set(sites["operator"].astype(str))):
            sub = sites[sites["operator"].astype(str) == operator]
            colour = OPERATOR_COLOURS.get(operator, "#555555")
            ax.scatter(
                sub.geometry.x,
                sub.geometry.y,
                marker="^",
                s=36,
                color=colour,
                edgecolor="black",
                linewidth=0.5,
                zorder=4,
            )
            handles.append(
                Line2D([], [], marker="^", linestyle="none", color=colour, label=operator)
            )
    if plan is not None and len(plan.plan):
        pts = plan.plan.geometry.to_crs(ds.crs)
        ax.scatter(
            pts.x,
            pts.y,
            marker="*",
            s=180,
            color="#CC0000",
            edgecolor="black",
            linewidth=0.6,
            zorder=5,
        )
        for rank, point in zip(plan.plan["rank"], pts, strict=True):
            ax.annotate(
                str(int(rank)),
                (point.x, point.y),
                textcoords="offset points",
                xytext=(6, 5),
                fontsize=8,
                fontweight="bold",
                color="#CC0000",
                zorder=6,
            )
        handles.append(
            Line2D(
                [],
                [],
                marker="*",
                markersize=12,
                linestyle="none",
                color="#CC0000",
                label=_t("planned", lang),
            )
        )
    xmin, ymin, xmax, ymax = ds.communes.total_bounds
    pad = 0.03 * max(xmax - xmin, ymax - ymin)
    ax.set_xlim(xmin - pad, xmax + pad)
    ax.set_ylim(ymin - pad, ymax + pad)
    ax.set_aspect("equal")
    ax.ticklabel_format(style="plain", useOffset=False)
    ax.tick_params(labelsize=7)
    title = ds.title.split(" / ")[-1] if lang == "en" else ds.title.split(" / ")[0]
    ax.set_title(f"{_t('map_title', lang)}: {title}", fontsize=10)
    if ds.synthetic:
        ax.text(
            0.01,
            0.01,
            _t("synthetic", lang),
            transform=ax.transAxes,
            fontsize=8,
            color="#CC0000",
            fontweight="bold",
        )
    ax.set_xlabel(f"x (m, {ds.crs.name})", fontsize=7)
    ax.set_ylabel("y (m)", fontsize=7)
    ax.legend(handles=handles, loc="upper left", fontsize=7, framealpha=0.9)
    return fig


# -- files ---------------------------------------------------------------------------


def write_plots(
    analysis: Analysis,
    plan: SitePlan | None,
    out_dir: str | Path,
    *,
    sensitivity: Sensitivity | None = None,
    lang: str = "en",
) -> list[Path]:
    """Write the figures as PNG files into ``out_dir`` (see :data:`PLOT_FILES`).

    Parameters
    ----------
    analysis
        The analysis (village status chart and map).
    plan
        The site plan, or ``None``: then only the status chart and the map
        are written.
    out_dir
        Output folder (created if needed).
    sensitivity
        Hatch the villages whose modelled status is uncertain on the map.
    lang
        ``"en"`` or ``"vi"``.

    Returns
    -------
    list of Path
        The files written, in the order of :data:`PLOT_FILES`.
    """
    out = Path(out_dir)
    figures: list[tuple[str, Figure]] = []
    if plan is not None:
        figures.append(("coverage_curve", coverage_curve_chart(plan, lang=lang)))
        figures.append(("cost", cost_chart(plan, lang=lang)))
    figures.append(("status", status_chart(analysis, lang=lang)))
    figures.append(("map", plan_map(analysis, plan, sensitivity=sensitivity, lang=lang)))
    paths = [atomic_write_bytes(out / PLOT_FILES[key], figure_png(fig)) for key, fig in figures]
    log.info("wrote %d plots to %s", len(paths), out)
    return paths
