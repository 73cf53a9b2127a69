"""The planners' Leaflet map: one self-contained HTML page per run.

folium renders the page: a :class:`PageMap` (a :class:`folium.Map` without
tiles and without folium's CDN links) creates the HTML figure and the Leaflet
map object, ``map_covgap``.  Everything else is added to folium's figure as
:class:`RawHtml` elements, which branca inserts as they are and never compiles
as Jinja templates: Leaflet's JavaScript and CSS (from the ``xstatic-leaflet``
package, inlined in both modes), covgap's own small script and stylesheet
(:mod:`covgap.publish.assets`), and every figure shown on the map as one JSON
document in a ``<script type="application/json">`` block.  covgap's script
adds the basemaps, layers, popups, tooltips, legends and search to folium's
map and builds all of them from that JSON with ``textContent``, never
``innerHTML``, so a village named ``<img src=x onerror=alert(1)>`` is shown as
text and runs nothing.  In the JSON, ``<``, ``>`` and ``&`` are written as
JSON escapes, so no data can close the script block either.

Online (default) the basemaps are OpenStreetMap and OpenTopoMap tiles, with
the DEM hillshade as a third choice; ``offline=True`` leaves out every web
address and uses the hillshade as the basemap, so the file makes no network
request at all.  branca's random element ids are replaced by fixed ones, so
the same inputs give the same bytes.
"""

from __future__ import annotations

import html
import json
import logging
import math
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, Figure
from jinja2 import Template
from pyproj import CRS

from covgap.data.text import fold
from covgap.errors import ParameterError
from covgap.files import atomic_write_text
from covgap.publish.assets import covgap_css, covgap_js, leaflet_css, leaflet_js
from covgap.publish.labels import LANGUAGES, label, labels_for
from covgap.publish.overlay import (
    MAX_ZOOM,
    SIGNAL_CLASSES,
    GreyImage,
    MercatorImage,
    RgbaImage,
    classify_signal,
    ground_m_per_pixel,
    jpeg_data_uri,
    png_data_uri,
    signal_palette,
)

__all__ = [
    "BASEMAPS",
    "MAP_ID",
    "OPERATOR_COLOURS",
    "STATUS_COLOURS",
    "MapScript",
    "PageMap",
    "RawHtml",
    "WebMap",
    "build_map",
    "json_for_script",
    "raster_blocks",
    "safe_text",
    "technology",
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
OTHER_OPERATOR_COLOUR = "#555555"
PLAN_COLOUR = "#5A2D82"
GRID_COLOUR = "#444444"

#: Web tile basemaps of the online map: (label key, URL, attribution, max zoom).
BASEMAPS: tuple[tuple[str, str, str, int], ...] = (
    (
        "basemap_osm",
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "&copy; <a href='https://www.openstreetmap.org/copyright'>OpenStreetMap</a>",
        19,
    ),
    (
        "basemap_topo",
        "https://{s}.tile.opentopomap.org/{z}/{x}/{y}.png",
        "&copy; <a href='https://www.openstreetmap.org/copyright'>OpenStreetMap</a>, SRTM"
        " | &copy; <a href='https://opentopomap.org'>OpenTopoMap</a> (CC-BY-SA)",
        17,
    ),
)

_TECHNOLOGY = {"GSM": "2G", "UMTS": "3G", "CDMA": "3G", "LTE": "4G", "NR": "5G"}
_DIGITS = 6  # decimal places of coordinates (about 0.1 m)
#: Polygons and lines are simplified to this share of a screen pixel at the
#: map's largest zoom (:data:`covgap.publish.overlay.MAX_ZOOM`): no visible change.
SIMPLIFY_PIXELS = 0.5


def village_state(coverage_status: str, power_status: str) -> str:
    """Return the map state key of a village from its two statuses."""
    if coverage_status == "unknown" or power_status == "unknown":
        return "status_unknown"
    cov = "covered" if coverage_status == "covered" else "uncovered"
    pow_ = "powered" if power_status == "powered" else "unpowered"
    return f"{cov}_{pow_}"


def safe_text(text: str) -> str:
    """Escape ``text`` for HTML and neutralise template delimiters.

    Braces become HTML character references (browsers show them as braces),
    so the text stays inert even if a template engine renders it again.
    """
    return html.escape(text, quote=True).replace("{", "&#123;").replace("}", "&#125;")


def json_for_script(obj: Any) -> str:
    """Serialise ``obj`` as JSON that is safe inside an HTML ``<script>`` block.

    ``<``, ``>`` and ``&`` are written as JSON escapes, so no string can close
    the block or open a comment; ``JSON.parse`` gives the original text back.
    """
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def technology(radio: Any) -> str:
    """Return the generation label (``2G``…``5G``) of an OpenCelliD radio value.

    Several radios (``"GSM;LTE"``) give ``"2G/4G"``; unknown values are kept.
    """
    if not isinstance(radio, str) or not radio.strip():
        return ""
    parts = [p for p in re.split(r"[;,/\s]+", radio.strip().upper()) if p]
    names = dict.fromkeys(_TECHNOLOGY.get(p, p) for p in parts)
    return "/".join(sorted(names))


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA:
        return True
    try:
        return bool(pd.isna(value)) if not isinstance(value, (list, tuple, np.ndarray)) else False
    except (TypeError, ValueError):
        return False


def _number(value: Any, lang: str, digits: int = 0) -> str:
    """Format a number with the language's separators (vi: 1.234,5; en: 1,234.5)."""
    if _missing(value):
        return "–"
    text = f"{float(value):,.{digits}f}"
    if lang == "vi":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return text


def _text(value: Any) -> str:
    if _missing(value):
        return "–"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _yes_no(value: Any, lang: str) -> str:
    if _missing(value):
        return label("unknown", lang)
    return label("yes", lang) if bool(value) else label("no", lang)


def _option(value: Any, lang: str) -> str:
    if _missing(value):
        return "–"
    key = f"opt_{value}"
    try:
        return label(key, lang)
    except KeyError:
        return str(value)


def _to_wgs84(gdf: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    if gdf is None or len(gdf) == 0:
        return None
    return gdf.to_crs(WGS84) if CRS.from_user_input(gdf.crs) != WGS84 else gdf


def _metric(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return ``gdf`` in a CRS in metres: its own if projected in metres, else its UTM zone."""
    crs = CRS.from_user_input(gdf.crs)
    if crs.is_projected and crs.axis_info[0].unit_name in ("metre", "meter"):
        return gdf
    return gdf.to_crs(gdf.estimate_utm_crs())


def _simplified(gdf: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    """Simplify lines and polygons to :data:`SIMPLIFY_PIXELS` of a pixel at the largest zoom.

    The tolerance is in ground metres at the data's latitude and the
    simplification runs in a metric CRS (topology preserved), so nothing
    changes on screen at any zoom the map allows, while vertices closer than
    that are dropped.
    """
    if gdf is None or len(gdf) == 0:
        return gdf
    metric = _metric(gdf)
    south, north = gdf.to_crs(WGS84).total_bounds[[1, 3]]
    tolerance = SIMPLIFY_PIXELS * ground_m_per_pixel(MAX_ZOOM, (south + north) / 2.0)
    out = metric.copy()
    out[out.geometry.name] = metric.geometry.simplify(tolerance, preserve_topology=True)
    return out


def _geometry(geom: Any) -> dict[str, Any] | None:
    if geom is None or geom.is_empty:
        return None
    try:
        rounded = shapely.set_precision(geom, 10.0**-_DIGITS)
    except shapely.errors.GEOSException:
        # simplified and reprojected, a polygon can lose its validity (a hole
        # touching its shell): round its coordinates one by one instead
        rounded = shapely.set_precision(geom, 10.0**-_DIGITS, mode="pointwise")
    return json.loads(shapely.to_geojson(rounded))


def _latlon(point: Any) -> list[float]:
    return [round(float(point.y), _DIGITS), round(float(point.x), _DIGITS)]


def _bounds(gdf: gpd.GeoDataFrame) -> list[list[float]]:
    minx, miny, maxx, maxy = (float(v) for v in gdf.total_bounds)
    return [
        [round(miny, _DIGITS), round(minx, _DIGITS)],
        [round(maxy, _DIGITS), round(maxx, _DIGITS)],
    ]


def _swatch(kind: str, colour: str, text: str, **extra: Any) -> dict[str, Any]:
    """One legend entry: ``kind`` in fill, circle, triangle, line, dash, number, note."""
    return {"kind": kind, "colour": colour, "text": text, **extra}


def _village_radius(households: Any) -> float:
    if _missing(households):
        return 5.0
    return round(min(16.0, max(4.0, 3.0 + 0.55 * math.sqrt(max(float(households), 0.0)))), 1)


def _village_rows(row: pd.Series, state: str, lang: str) -> list[list[str]]:
    rows = [
        [label("code", lang), _text(row.get("village_code"))],
        [label("commune", lang), _text(row.get("commune_name"))],
        [label("households", lang), _number(row.get("households"), lang)],
        [label("population", lang), _number(row.get("population"), lang)],
        [label("grid_power", lang), _yes_no(row.get("grid_power"), lang)],
        [label("mobile_signal", lang), _yes_no(row.get("mobile_signal"), lang)],
    ]
    estimated = row.get("power_estimated")
    if not _missing(estimated) and bool(estimated):  # a covgap prepare estimate, so marked
        grid = next(r for r in rows if r[0] == label("grid_power", lang))
        grid[1] += f" ({label('estimated', lang)})"
    status = row.get("modelled_status")
    if isinstance(status, str):
        text = label(status, lang) if status in ("covered", "uncovered") else label("unknown", lang)
        rsrp = row.get("best_rsrp_dbm")
        if not _missing(rsrp):
            text += f" ({float(rsrp):.0f} dBm)"
        rows.append([label("modelled_status", lang), text])
        share = row.get("share_covered")
        if not _missing(share):
            rows.append([label("share_covered", lang), f"{float(share):.0%}"])
        rows.append([label("best_server", lang), _text(row.get("best_server"))])
    if "planned_site" in row.index:
        rows.append([label("planned_site", lang), _text(row.get("planned_site"))])
    if "status_uncertain" in row.index and bool(row.get("status_uncertain")):
        rows.append([label("status_uncertain", lang), label("yes", lang)])
    rows.append([label("status", lang), label(state, lang)])
    return rows


def _villages_layer(villages: gpd.GeoDataFrame, lang: str) -> dict[str, Any]:
    states = [
        village_state(c, p)
        for c, p in zip(villages["coverage_status"], villages["power_status"], strict=True)
    ]
    points = villages.geometry.representative_point()
    items = []
    for (_, row), point, state, geom in zip(
        villages.iterrows(), points, states, villages.geometry, strict=True
    ):
        name = _text(row.get("village_name"))
        items.append(
            {
                "code": _text(row.get("village_code")),
                "name": name,
                "key": fold(name),
                "commune": _text(row.get("commune_name")),
                "colour": STATUS_COLOURS[state],
                "radius": _village_radius(row.get("households")),
                "at": _latlon(point),
                "shape": _geometry(geom),
                "rows": _village_rows(row, state, lang),
            }
        )
    present = [k for k in STATUS_COLOURS if k in set(states)] or list(STATUS_COLOURS)
    legend = [_swatch("circle", STATUS_COLOURS[k], label(k, lang)) for k in present]
    legend.append(_swatch("note", "", label("size_note", lang)))
    legend.extend(
        _swatch(
            "size",
            "#bbbbbb",
            label("households_n", lang).format(n=_number(n, lang)),
            radius=_village_radius(n),
        )
        for n in (25, 100, 400)
    )
    return {
        "id": "villages",
        "kind": "villages",
        "name": label("villages", lang),
        "show": True,
        "items": items,
        "legend": legend,
    }


def _communes_layer(communes: gpd.GeoDataFrame, lang: str) -> dict[str, Any]:
    points = communes.geometry.representative_point()
    items = [
        {"name": _text(name), "at": _latlon(point), "shape": _geometry(geom)}
        for name, point, geom in zip(
            communes["commune_name"], points, communes.geometry, strict=True
        )
    ]
    return {
        "id": "communes",
        "kind": "communes",
        "name": label("communes", lang),
        "show": True,
        "items": items,
        "legend": [_swatch("line", "#333333", label("communes", lang))],
    }


def _grid_layer(grid: gpd.GeoDataFrame, lang: str) -> dict[str, Any]:
    items = []
    for _, row in grid.iterrows():
        shape = _geometry(row.geometry)
        if shape is None:
            continue
        kv = row.get("voltage_kv")
        items.append(
            {"shape": shape, "title": f"{_number(kv, lang)} kV" if not _missing(kv) else ""}
        )
    return {
        "id": "grid",
        "kind": "grid",
        "name": label("grid", lang),
        "show": True,
        "colour": GRID_COLOUR,
        "items": items,
        "legend": [_swatch("dash", GRID_COLOUR, label("grid", lang))],
    }


def _towers_layer(sites: gpd.GeoDataFrame, lang: str) -> dict[str, Any]:
    items = []
    operators: dict[str, str] = {}
    for _, site in sites.iterrows():
        operator = _text(site.get("operator"))
        colour = OPERATOR_COLOURS.get(operator, OTHER_OPERATOR_COLOUR)
        operators[operator] = colour
        tech = technology(site.get("radio"))
        site_id = _text(site.get("site_id"))
        items.append(
            {
                "at": _latlon(site.geometry),
                "colour": colour,
                "tech": tech,
                "title": f"{site_id} · {operator}" + (f" · {tech}" if tech else ""),
                "heading": site_id,
                "rows": [
                    [label("operator", lang), operator],
                    [label("radio", lang), _text(site.get("radio"))],
                    [label("cells", lang), _text(site.get("n_cells"))],
                    [label("mast_height", lang), _number(site.get("height_m"), lang)],
                ],
            }
        )
    legend = [_swatch("triangle", c, op) for op, c in sorted(operators.items())]
    legend.append(_swatch("note", "", label("technology_note", lang)))
    return {
        "id": "towers",
        "kind": "towers",
        "name": label("towers", lang),
        "show": True,
        "items": items,
        "legend": legend,
    }


#: Radius of the sector wedges drawn on the map, m (a symbol, not the coverage).
SECTOR_WEDGE_M = 600.0


def _wedge(lon: float, lat: float, azimuth: float, width: float) -> dict[str, Any]:
    """Return a sector wedge as a GeoJSON polygon around ``(lon, lat)`` (flat-earth offsets)."""
    width = min(max(width, 10.0), 360.0)
    steps = max(4, int(width // 10))
    ring = [[lon, lat]] if width < 360.0 else []
    for k in range(steps + 1):
        a = math.radians(azimuth - width / 2 + width * k / steps)
        north = SECTOR_WEDGE_M * math.cos(a) / 111_320.0
        east = SECTOR_WEDGE_M * math.sin(a) / (111_320.0 * math.cos(math.radians(lat)))
        ring.append([round(lon + east, _DIGITS), round(lat + north, _DIGITS)])
    ring.append(ring[0])
    return {"type": "Polygon", "coordinates": [ring]}


def _sectors_layer(sites: gpd.GeoDataFrame, lang: str) -> dict[str, Any] | None:
    """Sector wedges of the sites that list sectors (``None`` when none does)."""
    if "sectors" not in sites.columns:
        return None
    items = []
    for _, site in sites.iterrows():
        sectors = site.get("sectors")
        if not isinstance(sectors, tuple) or not sectors:
            continue
        operator = _text(site.get("operator"))
        colour = OPERATOR_COLOURS.get(operator, OTHER_OPERATOR_COLOUR)
        lon, lat = float(site.geometry.x), float(site.geometry.y)
        for sector in sectors:
            items.append(
                {
                    "shape": _wedge(lon, lat, sector.azimuth_deg, sector.half_power_width_deg),
                    "colour": colour,
                    "title": f"{_text(site.get('site_id'))} · {sector.azimuth_deg:g}°",
                }
            )
    if not items:
        return None
    return {
        "id": "sectors",
        "kind": "sectors",
        "name": label("sectors", lang),
        "show": True,
        "items": items,
        "legend": [_swatch("note", "", label("sectors_note", lang))],
    }


def _plan_layer(plan: gpd.GeoDataFrame, lang: str) -> dict[str, Any]:
    items = []
    for _, site in plan.sort_values("rank", kind="stable").iterrows():
        rank = int(site["rank"])
        names = site.get("village_names")
        names_text = ", ".join(str(n) for n in names) if isinstance(names, (list, tuple)) else ""
        rows = [
            [label("rank", lang), str(rank)],
            [label("commune", lang), _text(site.get("commune"))],
            [label("villages_gained", lang), names_text or "–"],
            [label("households_gained", lang), _number(site.get("households_gained"), lang)],
        ]
        optional = [
            ("population_gained", "population_gained", _number),
            ("power_option", "power", _option),
            ("power_cost", "power_cost_vnd", _number),
            ("backhaul_option", "backhaul", _option),
            ("backhaul_cost", "backhaul_cost_vnd", _number),
            ("cost_vnd", "cost_vnd", _number),
            ("cost_usd", "cost_usd", _number),
            ("mast_height", "height_m", _number),
            ("distance_to_grid", "distance_to_grid_m", _number),
        ]
        for key, column, fmt in optional:
            if column in site.index:
                rows.append([label(key, lang), fmt(site.get(column), lang)])
        site_id = _text(site.get("site_id"))
        items.append(
            {
                "at": _latlon(site.geometry),
                "rank": rank,
                "title": f"#{rank} {site_id}",
                "heading": f"#{rank} {site_id}",
                "rows": rows,
            }
        )
    return {
        "id": "plan",
        "kind": "plan",
        "name": label("planned_sites", lang),
        "show": True,
        "colour": PLAN_COLOUR,
        "items": items,
        "legend": [_swatch("number", PLAN_COLOUR, label("rank_note", lang))],
    }


def _signal_legend(lang: str) -> list[dict[str, Any]]:
    return [
        _swatch("fill", f"rgba({r},{g},{b},{a / 255:.2f})", label(key, lang))
        for _lower, (r, g, b, a), key in SIGNAL_CLASSES
    ]


def _image_layer(
    layer_id: str, image: MercatorImage, lang: str, *, show: bool, note: str | None = None
) -> dict[str, Any]:
    legend = _signal_legend(lang)
    if note:
        legend.append(_swatch("note", "", note))
    return {
        "id": layer_id,
        "kind": "image",
        "name": label("signal_layer" if layer_id == "signal" else "after_layer", lang),
        "show": show,
        "raster": layer_id,
        "bounds": image.bounds,
        "legend": legend,
    }


def _signal_uri(image: MercatorImage) -> str:
    """Return the signal classes as a palette PNG data URI (transparent where none)."""
    return png_data_uri(classify_signal(image.data), signal_palette())


def _basemap_uri(image: GreyImage | RgbaImage) -> str:
    """Return the hillshade as a greyscale JPEG (a :class:`GreyImage`) or an RGBA PNG."""
    if isinstance(image, GreyImage):
        return jpeg_data_uri(image.grey)
    return png_data_uri(image.rgba)


_RASTER_ID = re.compile(r"[A-Za-z0-9_-]+")
_DATA_URI = re.compile(r"data:image/[a-z+.-]+;base64,[A-Za-z0-9+/=]*")


def raster_blocks(rasters: dict[str, str]) -> str:
    """Return the page's raster blocks: one ``<script type="text/plain">`` per image.

    They follow the map's script, so the browser draws the vector layers
    before it has even read the images; the map's script turns each block into
    an image overlay once the page is parsed, and shows it when decoded.  A
    data URI holds only base64 characters, so it cannot close the block.
    """
    parts = []
    for raster_id, uri in rasters.items():
        if not _RASTER_ID.fullmatch(raster_id):
            raise ParameterError(
                f"raster id {raster_id!r} is not a plain id (letters, digits, _, -)"
            )
        if not _DATA_URI.fullmatch(uri):
            raise ParameterError(f"raster {raster_id!r} is not a base64 data URI of an image")
        parts.append(
            f'<script type="text/plain" class="covgap-raster-data" id="covgap-raster-{raster_id}">'
            f"{uri}</script>"
        )
    return "\n".join(parts)


class RawHtml(Element):
    """A branca element that renders its text exactly as given.

    branca's :class:`~branca.element.MacroElement` turns each macro's output
    into a new Jinja template, and :class:`~branca.element.Element` compiles
    the string it is given as one; this element does neither, so no text it
    carries (the page's data above all) is ever read as template source.
    """

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "RawHtml"
        self.text = text

    def render(self, **kwargs: Any) -> str:
        """Return the text unchanged."""
        return self.text


class MapScript(Element):
    """Script that drives a folium map, placed after the map's own script.

    As a child of the map it is rendered after the map has added its
    ``L.map(...)`` call to the figure, so its text runs once the map exists.
    The text is added as a :class:`RawHtml`, never as a template.
    """

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "MapScript"
        self.text = text

    def render(self, **kwargs: Any) -> str:
        """Add the script to the figure's script block, after the map's."""
        figure = self.get_root()
        if not isinstance(figure, Figure):
            raise TypeError("a MapScript must be inside a folium figure")
        figure.script.add_child(RawHtml(self.text), name=self.get_name())
        return ""


class PageMap(folium.Map):
    """folium's map without CDN resources: Leaflet is inlined instead.

    folium's default page links Leaflet, jQuery, Bootstrap and the
    awesome-markers icons from CDNs.  The covgap page uses only Leaflet, and
    inlines its JavaScript and CSS from ``xstatic-leaflet``, so this map links
    nothing and the page works without a network.
    """

    default_js: ClassVar[list[tuple[str, str]]] = []
    default_css: ClassVar[list[tuple[str, str]]] = []


#: The page skeleton (branca's Figure template plus the language and a
#: charset).  Only covgap-controlled values reach it: the language code and
#: the already escaped title.
PAGE_TEMPLATE = Template(
    "<!DOCTYPE html>\n"
    '<html lang="{{ this.lang }}">\n'
    "<head>\n"
    '<meta charset="utf-8">\n'
    "<title>{{ this.title }}</title>\n"
    "{{ this.header.render(**kwargs) }}\n"
    "</head>\n"
    "<body>\n"
    "{{ this.html.render(**kwargs) }}\n"
    "<script>\n"
    "{{ this.script.render(**kwargs) }}\n"
    "</script>\n"
    "{{ this.rasters.render(**kwargs) }}\n"
    "</body>\n"
    "</html>\n"
)

#: The id of the folium map: its JavaScript variable is ``map_covgap``.
MAP_ID = "covgap"


def _number_elements(root: Element) -> None:
    """Replace branca's random element ids by fixed ones, in build order.

    The map gets :data:`MAP_ID`, every other element a running number.
    Children keyed by their old name are re-keyed by the new one, in order.
    """
    counter = 0

    def visit(element: Element) -> None:
        nonlocal counter
        if isinstance(element, folium.Map):
            element._id = MAP_ID
        else:
            counter += 1
            element._id = f"{counter:03d}"
        if isinstance(element, Figure):
            for part in (element.header, element.html, element.script):
                visit(part)
        by_name = [
            (name, child, name == child.get_name()) for name, child in element._children.items()
        ]
        for _name, child, _keyed in by_name:
            visit(child)
        element._children = OrderedDict(
            (child.get_name() if keyed else name, child) for name, child, keyed in by_name
        )

    visit(root)


def _page(
    data: dict[str, Any], lang: str, title: str, rasters: dict[str, str] | None = None
) -> PageMap:
    """Build the folium map and its figure: the page that draws ``data``.

    folium creates the figure and the Leaflet map (no tiles); the data, as
    one escaped JSON block, Leaflet's and covgap's CSS and JavaScript are
    :class:`RawHtml` elements; ``covgap-map.js`` adds the basemaps, layers,
    legends and tools to the folium map, whose JavaScript name is
    ``data["map"]``.  The images (``rasters``, data URIs by id) come last, in
    :func:`raster_blocks` after the map's script.
    """
    (south, west), (north, east) = data["bounds"]
    fmap = PageMap(
        location=[round((south + north) / 2, _DIGITS), round((west + east) / 2, _DIGITS)],
        zoom_start=10,
        max_zoom=MAX_ZOOM,
        tiles=None,
        zoom_control=True,
        prefer_canvas=False,
    )
    figure = fmap.get_root()
    if not isinstance(figure, Figure):  # pragma: no cover - folium always makes one
        raise TypeError("folium did not create a figure")
    figure._template = PAGE_TEMPLATE
    figure.lang = lang
    figure.title = safe_text(title or "covgap")
    figure.rasters = RawHtml(raster_blocks(rasters or {}))
    figure.header._children.pop("meta_http", None)  # the page's charset replaces it
    _number_elements(figure)  # the map's JavaScript name is fixed before the data
    page_data = {**data, "map": fmap.get_name()}
    figure.header.add_child(RawHtml(f"<style>\n{leaflet_css()}\n</style>"), name="leaflet_css")
    figure.header.add_child(RawHtml(f"<style>\n{covgap_css()}\n</style>"), name="covgap_css")
    figure.header.add_child(RawHtml(f"<script>\n{leaflet_js()}\n</script>"), name="leaflet_js")
    figure.html.add_child(
        RawHtml(
            '<script type="application/json" id="covgap-data">'
            f"{json_for_script(page_data)}</script>"
        ),
        name="covgap_data",
    )
    fmap.add_child(MapScript(covgap_js()), name="covgap_js")
    _number_elements(figure)
    return fmap


@dataclass
class WebMap:
    """A built map: the folium map that renders the page, and its data.

    Attributes
    ----------
    data
        The JSON document the page's script draws (labels, layers, legends).
    lang
        ``"vi"`` or ``"en"``.
    title
        Page title.
    offline
        Whether the page was built to make no network request.
    layer_ids
        The overlays, in drawing order.
    map
        The :class:`folium.Map` (a :class:`PageMap`) whose figure is the page.
    rasters
        The images as data URIs by raster id (``spec["raster"]`` of a layer
        or basemap), written after the map's script.
    """

    data: dict[str, Any]
    lang: str = "vi"
    title: str = ""
    offline: bool = False
    layer_ids: list[str] = field(default_factory=list)
    map: folium.Map | None = None
    rasters: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.map is None:
            self.map = _page(self.data, self.lang, self.title, self.rasters)

    def render(self) -> str:
        """Return the complete HTML page, rendered by folium's figure."""
        assert self.map is not None
        return self.map.get_root().render()

    def _repr_html_(self) -> str:
        page = html.escape(self.render(), quote=True)
        return f'<iframe srcdoc="{page}" style="width:100%;height:600px;border:0"></iframe>'


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
    hillshade: GreyImage | RgbaImage | None = None,
    offline: bool = False,
    extra_layers: list[dict[str, Any]] | None = None,
    attribution: Sequence[str] = (),
) -> WebMap:
    """Build the gap map.

    Parameters
    ----------
    villages
        The village status table from :func:`covgap.gaps.find_gaps` (polygons
        with ``village_code``, ``village_name``, ``commune_name``,
        ``households``, ``population``, ``mobile_signal``, ``grid_power``,
        ``coverage_status``, ``power_status``; optionally ``modelled_status``,
        ``share_covered``, ``best_rsrp_dbm``, ``best_server``, ``planned_site``).
    communes
        Commune polygons with ``commune_name``.
    sites
        Existing tower sites (``site_id``, ``operator``, ``radio``, ``n_cells``).
    grid
        Medium-voltage lines (optionally ``voltage_kv``).
    title
        Page title and legend heading.
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
        Ranked proposed sites (``rank``, ``site_id``, ``village_names``,
        ``households_gained``, ``cost_vnd``, ``power``, ``backhaul`` and the
        other columns of :func:`covgap.planning.siteplan.plan_sites`), drawn as
        numbered markers.
    after_image
        Best-server RSRP with the planned sites added (hidden by default).
    hillshade
        The DEM's hillshade (:func:`covgap.publish.overlay.hillshade_image`),
        written as a greyscale JPEG (an :class:`RgbaImage` as PNG): the
        basemap offline, a basemap choice online.
    offline
        Leave out web tiles and every other web address: the page makes no
        network request.
    extra_layers
        More overlay layers, drawn last (e.g.
        :func:`covgap.publish.jointmap.joint_layers`); kinds ``lines``,
        ``points`` and the ones above.
    attribution
        The data sources' attributions (``Dataset.attributions``), shown as
        text in the map's attribution control.

    Returns
    -------
    WebMap
        Render it with :meth:`WebMap.render` or write it with :func:`write_map`.
    """
    if lang not in LANGUAGES:
        raise ParameterError(f"unknown language {lang!r}; expected one of {', '.join(LANGUAGES)}")
    villages_ll = _to_wgs84(_simplified(villages))
    communes_ll = _to_wgs84(_simplified(communes))
    if villages_ll is None or communes_ll is None:
        raise ParameterError("the map needs at least one village and one commune")

    layers: list[dict[str, Any]] = []
    rasters: dict[str, str] = {}
    if hillshade is None and offline:
        log.warning("offline map without a DEM: no basemap")
    if signal_image is not None:
        layers.append(_image_layer("signal", signal_image, lang, show=True))
        rasters["signal"] = _signal_uri(signal_image)
    if after_image is not None:
        layers.append(
            _image_layer("after", after_image, lang, show=False, note=label("after_note", lang))
        )
        rasters["after"] = _signal_uri(after_image)
    layers.append(_communes_layer(communes_ll, lang))
    grid_ll = _to_wgs84(_simplified(grid))
    if grid_ll is not None:
        layers.append(_grid_layer(grid_ll, lang))
    layers.append(_villages_layer(villages_ll, lang))
    sites_ll = _to_wgs84(sites)
    if sites_ll is not None:
        layers.append(_towers_layer(sites_ll, lang))
        wedges = _sectors_layer(sites_ll, lang)
        if wedges is not None:
            layers.append(wedges)
    plan_ll = _to_wgs84(plan)
    if plan_ll is not None:
        layers.append(_plan_layer(plan_ll, lang))
    layers.extend(extra_layers or [])

    basemaps: list[dict[str, Any]] = []
    if not offline:
        basemaps.extend(
            {"id": key, "name": label(key, lang), "url": url, "attribution": attr, "maxZoom": z}
            for key, url, attr, z in BASEMAPS
        )
    if hillshade is not None:
        basemaps.append(
            {
                "id": "basemap_hillshade",
                "name": label("basemap_hillshade", lang),
                "raster": "basemap_hillshade",
                "bounds": hillshade.bounds,
                "note": label("hillshade_note", lang),
            }
        )
        rasters["basemap_hillshade"] = _basemap_uri(hillshade)
    if not basemaps:
        basemaps.append({"id": "basemap_none", "name": label("basemap_none", lang)})

    summary_text = ""
    if summary:
        summary_text = label("summary_line", lang).format(
            villages=int(summary.get("villages", 0)),
            uncovered=int(summary.get("uncovered", 0)),
            unpowered=int(summary.get("unelectrified", 0)),
        )
    data = {
        "lang": lang,
        "title": title,
        "synthetic": bool(synthetic),
        "summary": summary_text,
        "offline": bool(offline),
        "bounds": _bounds(communes_ll),
        "labels": labels_for(lang),
        "basemaps": basemaps,
        "layers": layers,
    }
    if attribution:
        data["attribution"] = [str(a) for a in attribution]
    return WebMap(
        data=data,
        lang=lang,
        title=title,
        offline=offline,
        layer_ids=[layer["id"] for layer in layers],
        rasters=rasters,
    )


def write_map(webmap: WebMap, path: str | Path) -> Path:
    """Render ``webmap`` to a standalone HTML file, atomically."""
    text = webmap.render()
    target = atomic_write_text(path, text)
    log.info("wrote the map %s (%.1f MB)", target, len(text.encode("utf-8")) / 1e6)
    return target
