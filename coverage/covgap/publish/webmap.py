"""The planners' Leaflet map (folium).

One HTML file per run: commune boundaries, villages coloured by their
coverage x power status, existing towers by operator, the medium-voltage grid,
a legend and popups.  Every text that comes from data is HTML-escaped before
it reaches the page, and element ids are numbered in build order so that the
same inputs give a byte-identical file.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import pandas as pd
from branca.element import Element
from pyproj import CRS

from covgap.publish.files import atomic_write_text
from covgap.publish.labels import label
from covgap.publish.overlay import SIGNAL_CLASSES, MercatorImage, colour_signal

__all__ = [
    "OPERATOR_COLOURS",
    "STATUS_COLOURS",
    "build_map",
    "safe_text",
    "village_state",
    "write_map",
]

log = logging.getLogger(__name__)

WGS84 = CRS.from_epsg(4326)

#: Fill colour of each village state (colour-blind-safe Okabe-Ito palette).
STATUS_COLOURS: dict[str, str] = {
    "covered_powered": "#009E73",
    "uncovered_powered": "#E69F00",
    "covered_unpowered": "#56B4E9",
    "uncovered_unpowered": "#D55E00",
    "status_unknown": "#999999",
}

OPERATOR_COLOURS: dict[str, str] = {
    "Viettel": "#007A7A",
    "VinaPhone": "#0072B2",
    "MobiFone": "#CC79A7",
}


def village_state(coverage_status: str, power_status: str) -> str:
    """Return the map state key of a village from its two statuses."""
    if coverage_status == "unknown" or power_status == "unknown":
        return "status_unknown"
    cov = "covered" if coverage_status == "covered" else "uncovered"
    pow_ = "powered" if power_status == "powered" else "unpowered"
    return f"{cov}_{pow_}"


def _esc(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value) or value is pd.NA:
        return "–"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return safe_text(str(value))


def safe_text(text: str) -> str:
    """Escape ``text`` for HTML and neutralise template delimiters.

    folium renders some element output through Jinja a second time, so a
    brace in data (``{{ ... }}``) would be evaluated; braces become HTML
    character references, which browsers show as braces.
    """
    return html.escape(text, quote=True).replace("{", "&#123;").replace("}", "&#125;")


def _yes_no(value: Any, lang: str) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return label("unknown", lang)
    return label("yes", lang) if bool(value) else label("no", lang)


def _table(rows: list[tuple[str, str]]) -> str:
    """Render (label, already-escaped value) pairs as a small HTML table."""
    body = "".join(
        f"<tr><th style='text-align:left;padding-right:6px'>{safe_text(k)}</th><td>{v}</td></tr>"
        for k, v in rows
    )
    return f"<table style='font-size:12px'>{body}</table>"


def _walk(element: Element) -> Iterator[Element]:
    yield element
    for part in ("header", "html", "script"):  # Figure and Popup keep elements here
        inner = getattr(element, part, None)
        if isinstance(inner, Element):
            yield from _walk(inner)
    for child in element._children.values():
        yield from _walk(child)


def _number_ids(root: Element) -> None:
    """Replace folium's random element ids by build-order numbers (stable output).

    Templates refer to children both by ``get_name()`` and by the key they
    were stored under, so the child maps are re-keyed as well.
    """
    elements = list(_walk(root))
    old_names = {id(e): e.get_name() for e in elements}
    for number, element in enumerate(elements):
        element._id = f"{number:06d}"
    for element in elements:
        element._children = type(element._children)(
            (child.get_name() if key == old_names.get(id(child)) else key, child)
            for key, child in element._children.items()
        )


class _RawHtml(Element):
    """HTML inserted verbatim into the page body (never rendered as a template)."""

    def __init__(self, content: str) -> None:
        super().__init__()
        self._name = "RawHtml"
        self.content = content

    def render(self, **kwargs: Any) -> str:
        return self.content


def _legend_box(content: str) -> _RawHtml:
    return _RawHtml(
        "<div class='covgap-legend' style='position:fixed;bottom:24px;left:10px;z-index:9999;"
        "background:white;padding:8px 10px;border:1px solid #888;border-radius:4px;"
        "font:12px sans-serif;max-width:320px'>" + content + "</div>"
    )


def _to_wgs84(gdf: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    if gdf is None or len(gdf) == 0:
        return None
    return gdf.to_crs(WGS84) if CRS.from_user_input(gdf.crs) != WGS84 else gdf


def build_map(
    villages: gpd.GeoDataFrame,
    communes: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame | None = None,
    grid: gpd.GeoDataFrame | None = None,
    *,
    title: str = "",
    synthetic: bool = False,
    summary: dict[str, Any] | None = None,
    lang: str = "vi",
    signal_image: MercatorImage | None = None,
    plan: gpd.GeoDataFrame | None = None,
    after_image: MercatorImage | None = None,
) -> folium.Map:
    """Build the gap map.

    Parameters
    ----------
    villages
        The village status table from :func:`covgap.gaps.find_gaps` (polygons
        with ``village_code``, ``village_name``, ``commune_name``,
        ``households``, ``population``, ``mobile_signal``, ``grid_power``,
        ``coverage_status``, ``power_status``).
    communes
        Commune polygons with ``commune_name``.
    sites
        Existing tower sites (``site_id``, ``operator``, ``radio``, ``n_cells``).
    grid
        Medium-voltage lines.
    title
        Shown in the legend box (escaped).
    synthetic
        Label the map as synthetic data.
    summary
        ``villages``/``uncovered``/``unelectrified`` counts shown in the legend.
    lang
        ``"vi"`` (default) or ``"en"``.
    signal_image
        Modelled best-server RSRP in Web Mercator (see
        :func:`covgap.publish.overlay.to_mercator`), drawn semi-transparent.
    plan
        Ranked proposed sites (``rank``, ``site_id``, ``villages_gained``,
        ``village_names``, ``households_gained``, ``cost_vnd``, ``power``,
        ``backhaul``), drawn as numbered markers.
    after_image
        Best-server RSRP with the planned sites added (hidden by default).

    Returns
    -------
    folium.Map
    """
    villages_ll = _to_wgs84(villages)
    communes_ll = _to_wgs84(communes)
    if villages_ll is None or communes_ll is None:
        raise ValueError("the map needs at least one village and one commune")
    minx, miny, maxx, maxy = communes_ll.total_bounds
    fmap = folium.Map(
        location=[(miny + maxy) / 2, (minx + maxx) / 2],
        zoom_start=11,
        tiles="OpenStreetMap",
        control_scale=True,
    )
    fmap.fit_bounds([[miny, minx], [maxy, maxx]])

    if signal_image is not None:
        folium.raster_layers.ImageOverlay(
            image=colour_signal(signal_image.data),
            bounds=signal_image.bounds,
            mercator_project=False,
            name=label("signal_layer", lang),
            opacity=1.0,
            interactive=False,
            zindex=2,
        ).add_to(fmap)

    if after_image is not None:
        folium.raster_layers.ImageOverlay(
            image=colour_signal(after_image.data),
            bounds=after_image.bounds,
            mercator_project=False,
            name=label("after_layer", lang),
            opacity=1.0,
            interactive=False,
            zindex=3,
            show=False,
        ).add_to(fmap)

    commune_layer = folium.FeatureGroup(name=label("communes", lang), show=True)
    folium.GeoJson(
        communes_ll[["commune_name", "geometry"]].assign(
            commune_name=communes_ll["commune_name"].map(_esc)
        ),
        style_function=lambda _f: {"color": "#333333", "weight": 2, "fillOpacity": 0.0},
        tooltip=folium.GeoJsonTooltip(fields=["commune_name"], labels=False),
    ).add_to(commune_layer)
    commune_layer.add_to(fmap)

    if grid is not None and len(grid):
        grid_layer = folium.FeatureGroup(name=label("grid", lang), show=True)
        folium.GeoJson(
            _to_wgs84(grid)[["geometry"]],
            style_function=lambda _f: {"color": "#444444", "weight": 2, "dashArray": "6 4"},
        ).add_to(grid_layer)
        grid_layer.add_to(fmap)

    village_layer = folium.FeatureGroup(name=label("villages", lang), show=True)
    states = [
        village_state(c, p)
        for c, p in zip(villages_ll["coverage_status"], villages_ll["power_status"], strict=True)
    ]
    polys = villages_ll[["geometry"]].assign(
        fill=[STATUS_COLOURS[s] for s in states],
        name=villages_ll["village_name"].map(_esc),
    )
    folium.GeoJson(
        polys,
        style_function=lambda f: {
            "color": "#666666",
            "weight": 0.6,
            "fillColor": f["properties"]["fill"],
            "fillOpacity": 0.35,
        },
        tooltip=folium.GeoJsonTooltip(fields=["name"], labels=False),
    ).add_to(village_layer)
    points = villages_ll.geometry.representative_point()
    for (_, row), point, state in zip(villages_ll.iterrows(), points, states, strict=True):
        rows = [
            (label("village", lang), f"<b>{_esc(row.get('village_name'))}</b>"),
            (label("code", lang), _esc(row.get("village_code"))),
            (label("commune", lang), _esc(row.get("commune_name"))),
            (label("households", lang), _esc(row.get("households"))),
            (label("population", lang), _esc(row.get("population"))),
            (label("mobile_signal", lang), _esc(_yes_no(row.get("mobile_signal"), lang))),
            *_model_rows(row, lang),
            *(
                [(label("planned_site", lang), _esc(row.get("planned_site")))]
                if isinstance(row.get("planned_site"), str)
                else []
            ),
            (label("grid_power", lang), _esc(_yes_no(row.get("grid_power"), lang))),
            (label("status", lang), _esc(label(state, lang))),
        ]
        folium.CircleMarker(
            location=[point.y, point.x],
            radius=6,
            color="#222222",
            weight=1,
            fill=True,
            fill_color=STATUS_COLOURS[state],
            fill_opacity=0.95,
            tooltip=_esc(row.get("village_name")),
            popup=folium.Popup(_table(rows), max_width=320),
        ).add_to(village_layer)
    village_layer.add_to(fmap)

    sites_ll = _to_wgs84(sites)
    if sites_ll is not None:
        tower_layer = folium.FeatureGroup(name=label("towers", lang), show=True)
        for _, site in sites_ll.iterrows():
            operator = str(site.get("operator", ""))
            rows = [
                (label("site", lang), f"<b>{_esc(site.get('site_id'))}</b>"),
                (label("operator", lang), _esc(operator)),
                (label("radio", lang), _esc(site.get("radio"))),
                (label("cells", lang), _esc(site.get("n_cells"))),
            ]
            folium.RegularPolygonMarker(
                location=[site.geometry.y, site.geometry.x],
                number_of_sides=3,
                radius=7,
                rotation=30,
                color="#000000",
                weight=1,
                fill=True,
                fill_color=OPERATOR_COLOURS.get(operator, "#555555"),
                fill_opacity=0.95,
                tooltip=_esc(f"{site.get('site_id')} · {operator}"),
                popup=folium.Popup(_table(rows), max_width=280),
            ).add_to(tower_layer)
        tower_layer.add_to(fmap)

    if plan is not None and len(plan):
        _plan_layer(plan, lang).add_to(fmap)

    folium.LayerControl(collapsed=False).add_to(fmap)
    _number_ids(fmap.get_root())
    fmap.get_root().html.add_child(
        _legend_box(_legend_html(title, synthetic, summary, lang, signal_image is not None)),
        name="legend",
    )
    return fmap


def _plan_layer(plan: gpd.GeoDataFrame, lang: str) -> folium.FeatureGroup:
    """Numbered markers of the ranked proposed sites."""
    layer = folium.FeatureGroup(name=label("planned_sites", lang), show=True)
    plan_ll = _to_wgs84(plan)
    for _, site in plan_ll.iterrows():
        rank = int(site["rank"])
        names = ", ".join(str(n) for n in site.get("village_names", []))
        rows = [
            (label("rank", lang), f"<b>{rank}</b>"),
            (label("site", lang), _esc(site.get("site_id"))),
            (label("villages_gained", lang), _esc(names or "–")),
            (label("households_gained", lang), _esc(site.get("households_gained"))),
            (label("power_option", lang), _esc(site.get("power"))),
            (label("backhaul_option", lang), _esc(site.get("backhaul"))),
            (label("cost_vnd", lang), _esc(f"{float(site.get('cost_vnd', 0.0)):,.0f}")),
        ]
        icon = folium.DivIcon(
            html=(
                "<div style='background:#5A2D82;color:white;border:2px solid white;"
                "border-radius:50%;width:22px;height:22px;line-height:22px;text-align:center;"
                f"font:bold 12px sans-serif;box-shadow:0 0 3px #000'>{rank}</div>"
            ),
            icon_size=(22, 22),
            icon_anchor=(11, 11),
        )
        folium.Marker(
            location=[site.geometry.y, site.geometry.x],
            icon=icon,
            tooltip=_esc(f"#{rank} {site.get('site_id')}"),
            popup=folium.Popup(_table(rows), max_width=320),
        ).add_to(layer)
    return layer


def _model_rows(row: pd.Series, lang: str) -> list[tuple[str, str]]:
    """Popup rows of the terrain model, when the village table carries them."""
    status = row.get("modelled_status")
    if not isinstance(status, str):
        return []
    share = row.get("share_covered")
    rsrp = row.get("best_rsrp_dbm")
    text = label(status, lang) if status in ("covered", "uncovered") else label("unknown", lang)
    if isinstance(rsrp, float) and rsrp == rsrp:
        text += f" ({rsrp:.0f} dBm)"
    rows = [(label("modelled_status", lang), _esc(text))]
    if isinstance(share, float) and share == share:
        rows.append((label("share_covered", lang), _esc(f"{share:.0%}")))
    rows.append((label("best_server", lang), _esc(row.get("best_server"))))
    return rows


def _legend_html(
    title: str,
    synthetic: bool,
    summary: dict[str, Any] | None,
    lang: str,
    signal: bool = False,
) -> str:
    parts = []
    if title:
        parts.append(f"<div style='font-weight:bold;margin-bottom:4px'>{safe_text(title)}</div>")
    if synthetic:
        parts.append(
            "<div style='color:#B00000;font-weight:bold;margin-bottom:4px'>"
            f"{safe_text(label('synthetic', lang))}</div>"
        )
    if summary:
        text = label("summary_line", lang).format(
            villages=int(summary.get("villages", 0)),
            uncovered=int(summary.get("uncovered", 0)),
            unpowered=int(summary.get("unelectrified", 0)),
        )
        parts.append(f"<div style='margin-bottom:4px'>{safe_text(text)}</div>")
    for key, colour in STATUS_COLOURS.items():
        parts.append(
            f"<div><span style='display:inline-block;width:12px;height:12px;"
            f"background:{colour};border:1px solid #333;margin-right:6px'></span>"
            f"{safe_text(label(key, lang))}</div>"
        )
    if signal:
        parts.append(f"<div style='margin-top:4px'>{safe_text(label('signal_layer', lang))}</div>")
        for _lower, (r, g, b, a), key in SIGNAL_CLASSES:
            parts.append(
                f"<div><span style='display:inline-block;width:12px;height:12px;"
                f"background:rgba({r},{g},{b},{a / 255:.2f});margin-right:6px'></span>"
                f"{safe_text(label(key, lang))}</div>"
            )
    for operator, colour in OPERATOR_COLOURS.items():
        parts.append(
            f"<div><span style='color:{colour};font-size:14px;margin-right:6px'>&#9650;</span>"
            f"{safe_text(operator)}</div>"
        )
    return "".join(parts)


def write_map(fmap: folium.Map, path: str | Path) -> Path:
    """Render ``fmap`` to a standalone HTML file, atomically."""
    text = fmap.get_root().render()
    return atomic_write_text(path, text)
