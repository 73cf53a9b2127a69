"""Compact HTML views of results for Jupyter (``_repr_html_``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from covgap.publish.webmap import safe_text

if TYPE_CHECKING:
    from covgap.analysis import Analysis
    from covgap.siteplan import SitePlan

__all__ = ["analysis_html", "key_value_table", "plan_html"]


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
