"""Compact HTML views of results for Jupyter (``_repr_html_``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from covgap.publish.webmap import safe_text

if TYPE_CHECKING:
    from covgap.analysis import Analysis
    from covgap.planning.joint import JointPlan
    from covgap.planning.siteplan import SitePlan
    from covgap.sensitivity import Sensitivity

__all__ = [
    "analysis_html",
    "analysis_map",
    "joint_html",
    "key_value_table",
    "plan_html",
    "sensitivity_html",
]


def key_value_table(title: str, rows: list[tuple[str, Any]]) -> str:
    """Render ``(label, value)`` rows as a small HTML table; all text is escaped."""
    body = "".join(
        f"<tr><th style='text-align:left'>{safe_text(str(k))}</th>"
        f"<td style='text-align:right'>{safe_text(str(v))}</td></tr>"
        for k, v in rows
    )
    table = f"<table style='border-collapse:collapse'>{body}</table>"
    return f"<div><b>{safe_text(title)}</b>{table}</div>"


def analysis_html(analysis: Analysis) -> str:
    """Key figures of an analysis: villages, gaps, model agreement."""
    s = analysis.summary()
    rows: list[tuple[str, Any]] = [
        ("dataset", s["dataset"] + (" (synthetic)" if s["synthetic"] else "")),
        ("villages", s["villages"]),
        ("uncovered", s["uncovered"]),
        ("unelectrified", s["unelectrified"]),
        ("uncovered and unelectrified", s["uncovered_and_unelectrified"]),
        ("unmatched rows", len(s["unmatched_rows"])),
    ]
    model = s.get("model")
    if model and model.get("agreement") is not None:
        agree = round(model["agreement"] * model["compared"])
        rows.append(("model agrees with survey", f"{agree} / {model['compared']}"))
    return key_value_table("covgap analysis", rows)


def plan_html(plan: SitePlan) -> str:
    """Key figures of a site plan and its ranked sites."""
    o = plan.overview()
    head = key_value_table(
        "covgap site plan",
        [
            ("method / status", f"{o['method']} / {o['status']}"),
            ("sites", o["sites"]),
            ("households gained", o["households_gained"]),
            ("villages gained", f"{len(o['villages_gained'])} of {o['uncovered_villages']}"),
            ("cost (bn VND)", f"{o['cost_vnd'] / 1e9:,.2f}"),
        ],
    )
    table = plan.plan.drop(columns="geometry")[
        ["rank", "site_id", "commune", "households_gained", "power", "backhaul", "cost_vnd"]
    ]
    return head + table.to_html(index=False, escape=True, float_format=lambda v: f"{v:,.0f}")


def sensitivity_html(sensitivity: Sensitivity) -> str:
    """Key figures of a sensitivity study and the villages whose status flips."""
    table = sensitivity.villages
    flips = table[table["status_uncertain"]]
    head = key_value_table(
        "covgap sensitivity of the modelled status",
        [
            ("scenario", sensitivity.scenario.name),
            ("variants", len(sensitivity.variants)),
            ("villages", len(table)),
            ("uncertain (status flips)", len(flips)),
        ],
    )
    variants = sensitivity.variants[["variant", "parameter", "value", "changed"]]
    shown = flips[["village_code", "village_name", "base_status", "flips"]].assign(
        flips=flips["flips"].map(", ".join)
    )
    return (
        head + variants.to_html(index=False, escape=True) + shown.to_html(index=False, escape=True)
    )


def analysis_map(
    analysis: Analysis,
    plan: SitePlan | None = None,
    *,
    lang: str = "vi",
    sensitivity: Sensitivity | None = None,
) -> Any:
    """Build the run's Leaflet map for a notebook (it displays itself inline).

    The map is :func:`covgap.publish.webmap.build_map`'s, built from the same
    inputs as the run's map file; its ``_repr_html_`` shows it in Jupyter.

    Parameters
    ----------
    analysis
        The analysis to draw.
    plan
        A site plan: numbered markers and the signal after the plan.
    lang
        ``"vi"`` or ``"en"``.
    sensitivity
        Adds the ``status_uncertain`` column to the village table given to the map.
    """
    from covgap.publish.report import run_map, run_table

    table = run_table(analysis, plan, sensitivity)
    return run_map(analysis, table, analysis.summary(), plan=plan, lang=lang)


def joint_html(joint: JointPlan) -> str:
    """Key figures of the joint plan beside the sequential one, and its lines and sites."""
    rows = []
    for name, side in (("joint", joint.joint), ("sequential", joint.sequential)):
        gap = "" if side.gap is None else f", gap {side.gap:.2%}"
        rows.append(
            (
                name,
                f"{side.households_covered_gained} covered + {side.households_powered_gained} "
                f"powered households; {len(side.lines)} lines, {len(side.villages)} villages, "
                f"{len(side.sites)} sites; {side.cost_vnd / 1e9:,.2f} bn VND "
                f"({side.status}{gap})",
            )
        )
    rows.extend(("not possible", note) for note in joint.not_possible)
    head = key_value_table("covgap joint plan of power and towers", rows)
    lines = joint.joint.lines.drop(columns="geometry")[
        ["line_id", "from", "to", "length_m", "cost_vnd", "paid_by"]
    ]
    sites = joint.joint.sites.drop(columns="geometry")[
        ["site_id", "power", "line_id", "households_gained", "cost_vnd"]
    ]
    fmt = {"float_format": lambda v: f"{v:,.0f}"}
    return (
        head
        + lines.to_html(index=False, escape=True, **fmt)
        + sites.to_html(index=False, escape=True, **fmt)
    )
