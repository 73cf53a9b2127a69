"""The joint plan's map layers: routed lines, villages getting power, joint sites.

Each function returns a layer description in the format of
:func:`covgap.publish.webmap.build_map`'s ``extra_layers`` (drawn by
``static/covgap-map.js``); every text comes from
:data:`covgap.publish.labels.JOINT_LABELS` (Vietnamese and English).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from covgap.publish.labels import label
from covgap.publish.webmap import _geometry, _latlon, _number, _option, _swatch, _to_wgs84

if TYPE_CHECKING:
    from covgap.planning.joint import JointPlan

__all__ = ["JOINT_LINE_COLOUR", "JOINT_SITE_COLOUR", "JOINT_VILLAGE_COLOUR", "joint_layers"]

JOINT_LINE_COLOUR = "#D4145A"
JOINT_VILLAGE_COLOUR = "#F7B500"
JOINT_SITE_COLOUR = "#0B7A75"


def _node_name(node: str, lang: str) -> str:
    return label("joint_grid", lang) if node == "grid" else node


def _payer(value: str, lang: str) -> str:
    return label(f"joint_{value}", lang) if value in ("utility", "operators") else value


def _lines_layer(joint: JointPlan, lang: str) -> dict[str, Any]:
    items = []
    lines = _to_wgs84(joint.joint.lines)
    if lines is not None:
        for _, line in lines.iterrows():
            shape = _geometry(line.geometry)
            if shape is None:
                continue
            line_id = str(line["line_id"])
            length = _number(line["length_m"], lang)
            items.append(
                {
                    "shape": shape,
                    "title": f"{line_id} · {length} m",
                    "heading": f"{label('joint_line', lang)} {line_id}",
                    "rows": [
                        [label("joint_from", lang), _node_name(str(line["from"]), lang)],
                        [label("joint_to", lang), _node_name(str(line["to"]), lang)],
                        [label("joint_length", lang), length],
                        [label("joint_steep", lang), _number(
                            float(line["steep_m"]) + float(line["very_steep_m"]), lang
                        )],
                        [label("cost_vnd", lang), _number(line["cost_vnd"], lang)],
                        [label("joint_paid_by", lang), _payer(str(line["paid_by"]), lang)],
                    ],
                }
            )  # fmt: skip
    return {
        "id": "joint_lines",
        "kind": "lines",
        "name": label("joint_lines", lang),
        "show": True,
        "colour": JOINT_LINE_COLOUR,
        "items": items,
        "legend": [
            _swatch("line", JOINT_LINE_COLOUR, label("joint_lines", lang)),
            _swatch("note", "", label("joint_note", lang)),
        ],
    }


def _villages_layer(joint: JointPlan, lang: str) -> dict[str, Any]:
    items = []
    villages = _to_wgs84(joint.joint.villages)
    if villages is not None:
        for _, village in villages.iterrows():
            name = str(village["village_name"])
            items.append(
                {
                    "at": _latlon(village.geometry.representative_point()),
                    "title": name,
                    "heading": name,
                    "rows": [
                        [label("code", lang), str(village["village_code"])],
                        [
                            label("joint_households_powered", lang),
                            _number(village["households_powered"], lang),
                        ],
                        [label("joint_powered_by", lang), str(village["line_id"]) or "–"],
                        [label("cost_vnd", lang), _number(village["cost_vnd"], lang)],
                    ],
                }
            )
    return {
        "id": "joint_villages",
        "kind": "points",
        "name": label("joint_villages", lang),
        "show": True,
        "colour": JOINT_VILLAGE_COLOUR,
        "items": items,
        "legend": [_swatch("circle", JOINT_VILLAGE_COLOUR, label("joint_villages", lang))],
    }


def _sites_layer(joint: JointPlan, lang: str) -> dict[str, Any]:
    items = []
    sites = _to_wgs84(joint.joint.sites)
    if sites is not None:
        for rank, (_, site) in enumerate(sites.iterrows(), start=1):
            site_id = str(site["site_id"])
            line_id = str(site["line_id"])
            items.append(
                {
                    "at": _latlon(site.geometry),
                    "rank": rank,
                    "title": f"{rank} · {site_id}",
                    "heading": site_id,
                    "rows": [
                        [
                            label("households_gained", lang),
                            _number(site["households_gained"], lang),
                        ],
                        [label("power_option", lang), _option(site["power"], lang)],
                        [label("joint_powered_by", lang), line_id or "–"],
                        [label("backhaul_option", lang), _option(site["backhaul"], lang)],
                        [label("cost_vnd", lang), _number(site["cost_vnd"], lang)],
                    ],
                }
            )
    return {
        "id": "joint_sites",
        "kind": "plan",
        "name": label("joint_sites", lang),
        "show": True,
        "colour": JOINT_SITE_COLOUR,
        "items": items,
        "legend": [_swatch("number", JOINT_SITE_COLOUR, label("joint_site_note", lang))],
    }


def joint_layers(joint: JointPlan, lang: str = "vi") -> list[dict[str, Any]]:
    """Return the joint plan's three map layers: lines, villages getting power, sites.

    Parameters
    ----------
    joint
        The joint plan (:func:`covgap.planning.joint.plan_joint`).
    lang
        ``"vi"`` or ``"en"``.
    """
    return [_lines_layer(joint, lang), _villages_layer(joint, lang), _sites_layer(joint, lang)]
