/* covgap map: draws the basemaps, layers, legends, search, measuring tool and
 * fullscreen button from the JSON in #covgap-data onto the Leaflet map that
 * folium created (its JavaScript name is D.map).  Every text from data reaches the page
 * through textContent (never innerHTML), so names cannot inject markup.
 * No network access: everything the page needs is inlined.
 *
 * Order of drawing: the vector layers first; the images (hillshade, coverage)
 * sit in <script type="text/plain"> blocks after this script and are turned
 * into image overlays once the page is parsed and each image is decoded.
 *
 * Adding a layer: give its JSON spec a new "kind" (Python side, webmap.py) and
 * register a builder here, BUILDERS[kind] = function (spec, group) {...}, that
 * adds Leaflet layers to the group; markers that labels must not cover go
 * through avoid(layer).  Layer control, legend, and lazy images come for free. */
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("covgap-data").textContent);
  var T = D.labels;
  /* phones: legend and layer list start collapsed, popups fit the screen */
  var SMALL = !!(window.matchMedia && window.matchMedia("(max-width: 600px)").matches);
  var timeline = []; /* what was drawn, in order: "vectors", then "raster:<id>" */

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  /* Fold a name for search: no diacritics, đ -> d, lower case, single spaces
   * (the same rule as covgap.text.fold, which folds the names in Python). */
  function fold(text) {
    return String(text)
      .replace(/đ/g, "d").replace(/Đ/g, "D")
      .normalize("NFD").replace(/\p{M}/gu, "")
      .toLowerCase().replace(/\s+/g, " ").trim();
  }

  function table(heading, rows) {
    var box = el("div", "covgap-popup");
    if (heading) box.appendChild(el("div", "covgap-popup-title", heading));
    var tbl = el("table");
    rows.forEach(function (row) {
      var tr = el("tr");
      tr.appendChild(el("th", null, row[0]));
      tr.appendChild(el("td", null, row[1]));
      tbl.appendChild(tr);
    });
    box.appendChild(tbl);
    return box;
  }

  function textNode(text) {
    return el("span", null, text);
  }

  var map = window[D.map]; /* the folium map: L.map(...) in the script before this one */
  if (!(map instanceof L.Map)) throw new Error("covgap: no Leaflet map named " + D.map);
  map.attributionControl.setPrefix("Leaflet");
  /* the data sources (Leaflet adds attributions as HTML: give it escaped text) */
  (D.attribution || []).forEach(function (text) {
    map.attributionControl.addAttribution(el("span", "covgap-source", text).outerHTML);
  });
  map.fitBounds(D.bounds);
  map.createPane("covgap-basemap").style.zIndex = 150;
  map.createPane("covgap-raster").style.zIndex = 300;
  var labelPane = map.createPane("covgap-labels"); /* above areas, below markers */
  labelPane.style.zIndex = 450;
  labelPane.style.pointerEvents = "none";

  /* ---- images: read from their blocks after the page is parsed, shown once decoded;
   * an image whose layer starts hidden is read and decoded only when the layer is
   * first shown (a phone keeps neither its pixels nor the work for a layer never opened) */
  var pendingRasters = [];
  var loadedRasters = {};
  var pageParsed = false;
  function lazyRaster(spec, group, options) {
    var started = false;
    function start() {
      if (started || !pageParsed) return;
      started = true;
      var block = document.getElementById("covgap-raster-" + spec.raster);
      if (!block) { console.error("covgap: no image block for " + spec.raster); return; }
      var img = new Image();
      img.decoding = "async";
      img.alt = "";
      img.src = block.textContent;
      function ready() {
        group.addLayer(L.imageOverlay(img, spec.bounds, options));
        loadedRasters[spec.raster] = true;
        timeline.push("raster:" + spec.raster);
        map.fire("covgap:raster", { id: spec.raster });
      }
      if (img.decode) img.decode().then(ready, function () { console.error("covgap: cannot decode " + spec.raster); });
      else img.onload = ready;
    }
    group.on("add", start);
    pendingRasters.push({ group: group, start: start });
  }
  function loadRasters() {
    pageParsed = true;
    pendingRasters.forEach(function (job) { if (map.hasLayer(job.group)) job.start(); });
  }

  /* ---- basemaps ---- */
  var bases = [];
  D.basemaps.forEach(function (b) {
    var layer;
    if (b.url) {
      layer = L.tileLayer(b.url, { attribution: b.attribution, maxZoom: b.maxZoom, subdomains: "abc" });
    } else if (b.raster) {
      layer = L.layerGroup();
      lazyRaster(b, layer, { pane: "covgap-basemap", interactive: false, className: "covgap-hillshade" });
    } else {
      layer = L.layerGroup();
    }
    bases.push({ name: b.name, layer: layer, spec: b });
  });
  bases[0].layer.addTo(map);

  /* ---- overlays ---- */
  var byId = {};
  var villageIndex = [];

  /* popups fit the screen: narrower than the map, and on phones scrolling inside */
  function popupOptions() {
    var size = map.getSize();
    var width = size.x > 0 ? Math.max(160, Math.min(340, size.x - 70)) : 340; /* 0: not laid out yet */
    var options = { maxWidth: width, autoPanPadding: L.point(10, 10) };
    if (SMALL) options.maxHeight = Math.max(160, Math.round(size.y * 0.5));
    return options;
  }
  function addPopup(layer, heading, rows) {
    layer.bindPopup(function () { return table(heading, rows); }, popupOptions());
  }

  /* markers that commune labels must not cover */
  var obstacles = [];
  function avoid(layer) { obstacles.push(layer); return layer; }

  function buildVillages(spec, group) {
    var polys = L.featureGroup();
    var points = L.featureGroup();
    spec.items.forEach(function (v) {
      if (v.shape) {
        var poly = L.geoJSON(v.shape, {
          style: { color: "#666666", weight: 0.6, fillColor: v.colour, fillOpacity: 0.3, className: "covgap-village-area" }
        });
        poly.bindTooltip(textNode(v.name), { sticky: true });
        addPopup(poly, v.name, v.rows);
        polys.addLayer(poly);
      }
      var marker = L.circleMarker(v.at, {
        radius: v.radius, color: "#222222", weight: 1, fillColor: v.colour, fillOpacity: 0.95,
        className: "covgap-village"
      });
      marker.bindTooltip(textNode(v.name));
      addPopup(marker, v.name, v.rows);
      points.addLayer(avoid(marker));
      villageIndex.push({ item: v, marker: marker, key: fold(v.name), code: fold(v.code) });
    });
    group.addLayer(polys);
    group.addLayer(points);
  }

  var areaLabels = []; /* {tooltip, at, rings}: placed by placeLabels() */
  function outerRings(shape) {
    if (!shape) return [];
    if (shape.type === "Polygon") return [shape.coordinates[0]];
    if (shape.type === "MultiPolygon") return shape.coordinates.map(function (p) { return p[0]; });
    return [];
  }

  function buildCommunes(spec, group) {
    spec.items.forEach(function (c) {
      if (c.shape) {
        var poly = L.geoJSON(c.shape, {
          interactive: false,
          style: { color: "#333333", weight: 2, fill: false, className: "covgap-commune" }
        });
        group.addLayer(poly);
      }
      var tip = L.tooltip({ permanent: true, direction: "center", className: "covgap-commune-label", interactive: false, pane: "covgap-labels" })
        .setLatLng(c.at).setContent(textNode(c.name));
      group.addLayer(tip);
      areaLabels.push({ tooltip: tip, at: L.latLng(c.at), rings: outerRings(c.shape) });
    });
  }

  function buildGrid(spec, group) {
    spec.items.forEach(function (g) {
      var line = L.geoJSON(g.shape, {
        style: { color: spec.colour, weight: 2, dashArray: "6 4", className: "covgap-grid" }
      });
      if (g.title) line.bindTooltip(textNode(g.title), { sticky: true });
      group.addLayer(line);
    });
  }

  function towerIcon(t) {
    var box = el("div", "covgap-tower");
    box.style.setProperty("--c", t.colour);
    box.appendChild(el("span", "covgap-tower-mark"));
    if (t.tech) box.appendChild(el("span", "covgap-tower-tech", t.tech));
    return L.divIcon({ html: box, className: "covgap-tower-icon", iconSize: [18, 18], iconAnchor: [9, 12] });
  }

  function buildTowers(spec, group) {
    spec.items.forEach(function (t) {
      var m = L.marker(t.at, { icon: towerIcon(t), keyboard: false });
      m.bindTooltip(textNode(t.title));
      addPopup(m, t.heading, t.rows);
      group.addLayer(avoid(m));
    });
  }

  function buildSectors(spec, group) {
    spec.items.forEach(function (w) {
      var wedge = L.geoJSON(w.shape, {
        style: { color: w.colour, weight: 1, fillColor: w.colour, fillOpacity: 0.25, className: "covgap-sector" }
      });
      wedge.bindTooltip(textNode(w.title), { sticky: true });
      group.addLayer(wedge);
    });
  }

  /* Ranked sites: one badge each; badges that would overlap at the current zoom
   * are merged into one ("2, 9") at the best-ranked site, whose popup lists them all. */
  var BADGE = 24;
  var rankGroups = [];
  function rankIcon(text, colour) {
    var width = text.length > 2 ? Math.ceil(12 + 8.5 * text.length) : BADGE;
    var badge = el("div", "covgap-rank" + (width > BADGE ? " covgap-rank-group" : ""), text);
    badge.style.background = colour;
    if (width > BADGE) badge.style.width = (width - 4) + "px"; /* minus the 2 px borders */
    return L.divIcon({ html: badge, className: "covgap-rank-icon", iconSize: [width, BADGE], iconAnchor: [width / 2, BADGE / 2] });
  }

  function buildPlan(spec, group) {
    var entries = [];
    spec.items.forEach(function (p) {
      var m = L.marker(p.at, { icon: rankIcon(String(p.rank), spec.colour), zIndexOffset: 1000 - p.rank });
      var entry = { item: p, marker: m };
      m.covgapMembers = [entry];
      m.bindTooltip(textNode(p.title));
      m.bindPopup(function () {
        var box = el("div", "covgap-popup-stack");
        m.covgapMembers.forEach(function (e) { box.appendChild(table(e.item.heading, e.item.rows)); });
        return box;
      }, popupOptions());
      group.addLayer(avoid(m));
      entries.push(entry);
    });
    entries.sort(function (a, b) { return a.item.rank - b.item.rank; });
    rankGroups.push({ spec: spec, group: group, entries: entries });
  }

  function arrangeRanks() {
    rankGroups.forEach(function (R) {
      var clusters = R.entries.map(function (e) {
        return { members: [e], at: map.latLngToContainerPoint(e.marker.getLatLng()) };
      });
      function text(c) { return c.members.map(function (e) { return e.item.rank; }).join(", "); }
      function box(c) {
        var t = text(c), w = t.length > 2 ? Math.ceil(12 + 8.5 * t.length) : BADGE;
        return { l: c.at.x - w / 2, t: c.at.y - BADGE / 2, r: c.at.x + w / 2, b: c.at.y + BADGE / 2 };
      }
      var merged = true;
      while (merged) {
        merged = false;
        for (var i = 0; i < clusters.length && !merged; i++) {
          for (var j = i + 1; j < clusters.length && !merged; j++) {
            if (overlap(box(clusters[i]), box(clusters[j]), 1)) {
              clusters[i].members = clusters[i].members.concat(clusters[j].members)
                .sort(function (a, b) { return a.item.rank - b.item.rank; });
              clusters[i].at = map.latLngToContainerPoint(clusters[i].members[0].marker.getLatLng());
              clusters.splice(j, 1);
              merged = true;
            }
          }
        }
      }
      clusters.forEach(function (c) {
        var lead = c.members[0].marker;
        var key = text(c);
        if (lead.covgapKey !== key) {
          lead.covgapKey = key;
          lead.covgapMembers = c.members;
          lead.setIcon(rankIcon(key, R.spec.colour));
          lead.setTooltipContent(textNode(c.members.map(function (e) { return e.item.title; }).join(" · ")));
        }
        if (!R.group.hasLayer(lead)) R.group.addLayer(lead);
        c.members.slice(1).forEach(function (e) {
          e.marker.covgapKey = null;
          if (R.group.hasLayer(e.marker)) R.group.removeLayer(e.marker);
        });
      });
    });
  }

  /* ---- commune labels that hide no marker: each label moves to the nearest free spot
   * inside its commune, or is hidden at this zoom when there is none ---- */
  function overlap(a, b, pad) {
    return a.l < b.r + pad && b.l < a.r + pad && a.t < b.b + pad && b.t < a.b + pad;
  }
  function obstacleBox(layer) {
    if (!map.hasLayer(layer)) return null;
    var p = map.latLngToContainerPoint(layer.getLatLng());
    if (layer instanceof L.CircleMarker) {
      var r = layer.getRadius() + (layer.options.weight || 0) / 2;
      return { l: p.x - r, t: p.y - r, r: p.x + r, b: p.y + r };
    }
    var icon = layer.options.icon && layer.options.icon.options;
    if (!icon || !icon.iconSize) return null;
    var size = L.point(icon.iconSize), anchor = icon.iconAnchor ? L.point(icon.iconAnchor) : size.divideBy(2);
    return { l: p.x - anchor.x, t: p.y - anchor.y, r: p.x - anchor.x + size.x, b: p.y - anchor.y + size.y };
  }
  function insideRings(pt, rings) {
    if (!rings.length) return true;
    return rings.some(function (ring) {
      var hit = false;
      for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
        var a = ring[i], b = ring[j];
        if ((a.y > pt.y) !== (b.y > pt.y) && pt.x < (b.x - a.x) * (pt.y - a.y) / (b.y - a.y) + a.x) hit = !hit;
      }
      return hit;
    });
  }
  function ringDistance(pt, rings) {
    var best = Infinity;
    rings.forEach(function (ring) {
      for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
        var a = ring[j], b = ring[i], dx = b.x - a.x, dy = b.y - a.y;
        var t = dx || dy ? ((pt.x - a.x) * dx + (pt.y - a.y) * dy) / (dx * dx + dy * dy) : 0;
        t = Math.max(0, Math.min(1, t));
        best = Math.min(best, Math.hypot(pt.x - a.x - t * dx, pt.y - a.y - t * dy));
      }
    });
    return best;
  }

  /* Candidate centres for a label of w x h px: a grid over its commune and a margin
   * around it, nearest first (sideways moves count double: the name stays over its commune). */
  function spots(home, w, h, rings) {
    var minX = home.x, maxX = home.x, minY = home.y, maxY = home.y;
    rings.forEach(function (ring) {
      ring.forEach(function (p) {
        minX = Math.min(minX, p.x); maxX = Math.max(maxX, p.x);
        minY = Math.min(minY, p.y); maxY = Math.max(maxY, p.y);
      });
    });
    /* around the commune, but never further than a few label sizes from home */
    var reachX = Math.max(3 * w, 150), reachY = Math.max(8 * h, 150);
    minX = Math.max(minX - w / 2, home.x - reachX); maxX = Math.min(maxX + w / 2, home.x + reachX);
    minY = Math.max(minY - h, home.y - reachY); maxY = Math.min(maxY + h, home.y + reachY);
    var stepX = Math.max(4, w / 6), stepY = Math.max(3, h / 3), list = [];
    for (var x = home.x - Math.floor((home.x - minX) / stepX) * stepX; x <= maxX; x += stepX) {
      for (var y = home.y - Math.floor((home.y - minY) / stepY) * stepY; y <= maxY; y += stepY) {
        var dx = x - home.x, dy = y - home.y;
        list.push({ x: x, y: y, d: dx * dx * 2 + dy * dy });
      }
    }
    return list.sort(function (a, b) { return a.d - b.d; });
  }

  /* The nearest free spot for a label node of its current size, or null: its centre
   * inside its own commune, or just outside it where no other commune is. */
  function freeSpot(node, home, own, others, blocked) {
    /* a label whose commune is in view is not cut by the edge of the map */
    var size = map.getSize();
    var view = home.x >= 0 && home.y >= 0 && home.x <= size.x && home.y <= size.y
      ? { l: 2, t: 2, r: size.x - 2, b: size.y - 2 } : null;
    var w = node.offsetWidth, h = node.offsetHeight, candidates = spots(home, w, h, own);
    for (var k = 0; k < candidates.length; k++) {
      var centre = L.point(candidates[k].x, candidates[k].y);
      var rect = { l: centre.x - w / 2, t: centre.y - h / 2, r: centre.x + w / 2, b: centre.y + h / 2 };
      if (blocked.some(function (o) { return overlap(rect, o, 1); })) continue;
      if (view && overlap(rect, view, 0) && !(rect.l >= view.l && rect.r <= view.r && rect.t >= view.t && rect.b <= view.b)) continue;
      if (own.length && !insideRings(centre, own)) {
        if (ringDistance(centre, own) > h) continue;
        if (others.some(function (rings) { return insideRings(centre, rings) || overlapsRings(rect, rings); })) continue;
      }
      return { centre: centre, rect: rect };
    }
    return null;
  }
  function overlapsRings(rect, rings) {
    var corners = [L.point(rect.l, rect.t), L.point(rect.r, rect.t), L.point(rect.l, rect.b), L.point(rect.r, rect.b)];
    return corners.some(function (p) { return insideRings(p, rings); });
  }

  /* Width that breaks a name into two lines at the space nearest its middle. */
  function twoLineWidth(node) {
    var text = node.textContent, wide = node.offsetWidth, pad = 10, best = text.length;
    for (var i = 0; i < text.length; i++) {
      if (/\s/.test(text[i])) best = Math.min(best, Math.max(i, text.length - i - 1));
    }
    return Math.ceil((wide - pad) * best / text.length) + pad + 4;
  }

  function placeLabels() {
    var blocked = obstacles.map(obstacleBox).filter(Boolean);
    var shown = areaLabels.filter(function (c) { return c.tooltip.getElement() && map.hasLayer(c.tooltip); });
    var projected = shown.map(function (c) {
      return c.rings.map(function (ring) {
        return ring.map(function (xy) { return map.latLngToContainerPoint([xy[1], xy[0]]); });
      });
    });
    shown.forEach(function (c, index) {
      var node = c.tooltip.getElement();
      var home = map.latLngToContainerPoint(c.at);
      var own = projected[index];
      var others = projected.filter(function (_r, i) { return i !== index; });
      node.classList.remove("covgap-label-wrap");
      node.style.width = "";
      var chosen = freeSpot(node, home, own, others, blocked);
      if (!chosen && /\s/.test(node.textContent)) {
        /* no room on one line: try the name on two lines */
        var width = twoLineWidth(node); /* measured on one line */
        node.classList.add("covgap-label-wrap");
        node.style.width = width + "px";
        chosen = freeSpot(node, home, own, others, blocked);
        if (!chosen) { node.classList.remove("covgap-label-wrap"); node.style.width = ""; }
      }
      node.classList.toggle("covgap-label-hidden", !chosen);
      c.tooltip.setLatLng(chosen ? map.containerPointToLatLng(chosen.centre) : c.at);
      if (chosen) blocked.push(chosen.rect); /* labels do not cover each other either */
    });
  }

  function declutter() {
    arrangeRanks();
    placeLabels();
  }

  /* lines and points with popups (the joint plan's layers) */
  function buildLines(spec, group) {
    spec.items.forEach(function (g) {
      var line = L.geoJSON(g.shape, {
        style: { color: spec.colour, weight: 3, opacity: 0.9, className: "covgap-line-" + spec.id }
      });
      if (g.title) line.bindTooltip(textNode(g.title), { sticky: true });
      if (g.rows) addPopup(line, g.heading, g.rows);
      group.addLayer(line);
    });
  }

  function buildPoints(spec, group) {
    spec.items.forEach(function (p) {
      var m = L.circleMarker(p.at, {
        radius: 7, color: "#222222", weight: 1.5, fillColor: spec.colour, fillOpacity: 0.95,
        className: "covgap-point-" + spec.id
      });
      m.bindTooltip(textNode(p.title));
      addPopup(m, p.heading, p.rows);
      group.addLayer(avoid(m));
    });
  }

  /* One builder per layer kind: BUILDERS[spec.kind](spec, group) fills the group. */
  var BUILDERS = {
    lines: buildLines,
    points: buildPoints,
    image: function (spec, group) {
      lazyRaster(spec, group, {
        pane: "covgap-raster", interactive: false, className: "covgap-raster covgap-raster-" + spec.id
      });
    },
    villages: buildVillages,
    communes: buildCommunes,
    grid: buildGrid,
    towers: buildTowers,
    plan: buildPlan,
    sectors: buildSectors
  };

  var overlays = [];
  D.layers.forEach(function (spec) {
    var group = L.featureGroup();
    var build = BUILDERS[spec.kind];
    if (!build) throw new Error("covgap: no builder for layer kind " + spec.kind);
    build(spec, group);
    byId[spec.id] = { spec: spec, layer: group };
    overlays.push({ name: spec.name, layer: group, spec: spec });
    if (spec.show) group.addTo(map);
  });

  /* ---- layer control (names set as text, not HTML) ---- */
  var control = L.control.layers(null, null, { collapsed: SMALL, position: "topright" });
  function safeName(text, id) {
    /* Leaflet puts layer names in with innerHTML: give it an escaped span. */
    var span = el("span", "covgap-layer-name", text);
    span.setAttribute("data-layer", id);
    return span.outerHTML;
  }
  if (bases.length > 1 || bases[0].spec.url) {
    bases.forEach(function (b) { control.addBaseLayer(b.layer, safeName(b.name, b.spec.id)); });
  }
  overlays.forEach(function (o) { control.addOverlay(o.layer, safeName(o.name, o.spec.id)); });
  control.addTo(map);
  (function () {
    var box = control.getContainer();
    var toggle = box.querySelector(".leaflet-control-layers-toggle");
    toggle.title = T.layers;
    toggle.setAttribute("aria-label", T.layers);
    if (!SMALL) return;
    /* collapsed on phones: a tap on the toggle opens the list, this button (or a tap on the
     * map) closes it.  Leaflet also opens it on mouseenter, which a touch screen emulates
     * before the click: the click would then land on the close button, so hover is off. */
    L.DomEvent.off(box, { mouseenter: control._expandSafely, mouseleave: control.collapse }, control);
    var close = el("button", "covgap-layers-close", T.close);
    close.type = "button";
    close.setAttribute("aria-label", T.close);
    var list = box.querySelector(".leaflet-control-layers-list");
    list.insertBefore(close, list.firstChild);
    L.DomEvent.on(close, "click", function (ev) { L.DomEvent.stop(ev); control.collapse(); });
  })();
  L.control.scale({ imperial: false, maxWidth: 160 }).addTo(map);

  /* ---- legend: one section per layer, shown while the layer is on ---- */
  function swatch(s) {
    var sw = el("span", "covgap-swatch covgap-swatch-" + s.kind);
    if (s.kind === "fill") sw.style.background = s.colour;
    else if (s.kind === "circle") sw.style.background = s.colour;
    else if (s.kind === "triangle") sw.style.borderBottomColor = s.colour;
    else if (s.kind === "line" || s.kind === "dash") sw.style.borderTopColor = s.colour;
    else if (s.kind === "number") { sw.style.background = s.colour; sw.textContent = "1"; }
    else if (s.kind === "size") {
      sw.style.width = sw.style.height = (2 * s.radius) + "px";
      sw.style.background = s.colour;
    }
    return sw;
  }

  var Legend = L.Control.extend({
    options: { position: "bottomleft" },
    onAdd: function () {
      var box = el("div", "covgap-legend leaflet-bar");
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      var head = el("div", "covgap-legend-head");
      var toggle = el("button", "covgap-legend-toggle", T.legend);
      toggle.type = "button";
      toggle.setAttribute("aria-expanded", SMALL ? "false" : "true");
      head.appendChild(toggle);
      box.appendChild(head);
      var body = el("div", "covgap-legend-body");
      if (SMALL) body.style.display = "none"; /* phones: one tap opens the legend, one closes it */
      toggle.addEventListener("click", function () {
        var open = body.style.display !== "none";
        body.style.display = open ? "none" : "";
        toggle.setAttribute("aria-expanded", open ? "false" : "true");
      });
      if (D.title) body.appendChild(el("div", "covgap-legend-title", D.title));
      if (D.synthetic) body.appendChild(el("div", "covgap-legend-synthetic", T.synthetic));
      if (D.summary) body.appendChild(el("div", "covgap-legend-summary", D.summary));
      if (D.offline) body.appendChild(el("div", "covgap-legend-note", T.offline_note));
      bases.forEach(function (b) {
        if (!b.spec.note) return;
        var sec = el("div", "covgap-legend-section");
        sec.setAttribute("data-layer", b.spec.id);
        sec.appendChild(el("div", "covgap-legend-note", b.spec.note));
        sec.style.display = map.hasLayer(b.layer) ? "" : "none";
        b.section = sec;
        body.appendChild(sec);
      });
      overlays.forEach(function (o) {
        var sec = el("div", "covgap-legend-section");
        sec.setAttribute("data-layer", o.spec.id);
        sec.appendChild(el("div", "covgap-legend-layer", o.spec.name));
        o.spec.legend.forEach(function (s) {
          var row = el("div", "covgap-legend-row");
          if (s.kind !== "note") row.appendChild(swatch(s));
          else row.className += " covgap-legend-note";
          row.appendChild(el("span", null, s.text));
          sec.appendChild(row);
        });
        sec.style.display = map.hasLayer(o.layer) ? "" : "none";
        o.section = sec;
        body.appendChild(sec);
      });
      box.appendChild(body);
      return box;
    }
  });
  new Legend().addTo(map);
  function syncLegend() {
    bases.concat(overlays).forEach(function (o) {
      if (o.section) o.section.style.display = map.hasLayer(o.layer) ? "" : "none";
    });
  }
  map.on("overlayadd overlayremove baselayerchange layeradd layerremove", syncLegend);
  map.on("zoomend overlayadd overlayremove resize", declutter);
  if (SMALL) {
    /* on a phone an open popup takes the width of the screen: the buttons at the top
     * step aside until it is closed (a tap on its x or on the map) */
    map.on("popupopen", function () { map.getContainer().classList.add("covgap-popup-open"); });
    map.on("popupclose", function () { map.getContainer().classList.remove("covgap-popup-open"); });
  }
  declutter();
  timeline.push("vectors");
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", loadRasters);
  else setTimeout(loadRasters, 0);

  /* technology labels of the towers only when zoomed in (they crowd the overview) */
  function syncZoomClass() {
    map.getContainer().classList.toggle("covgap-zoomed-in", map.getZoom() >= 13);
  }
  map.on("zoomend", syncZoomClass);
  syncZoomClass();

  /* ---- village search (accent-insensitive) ---- */
  var Search = L.Control.extend({
    options: { position: "topleft" },
    onAdd: function () {
      var box = el("div", "covgap-search leaflet-bar");
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      var input = el("input", "covgap-search-input");
      input.type = "search";
      input.placeholder = T.search_placeholder;
      input.setAttribute("aria-label", T.search_placeholder);
      var list = el("ul", "covgap-search-results");
      box.appendChild(input);
      box.appendChild(list);
      function choose(entry) {
        var villages = byId.villages;
        if (villages && !map.hasLayer(villages.layer)) villages.layer.addTo(map);
        map.setView(entry.marker.getLatLng(), Math.max(map.getZoom(), 14));
        entry.marker.openPopup();
        list.textContent = "";
      }
      function update() {
        var q = fold(input.value);
        list.textContent = "";
        if (!q) return;
        var hits = villageIndex.filter(function (e) {
          return e.key.indexOf(q) !== -1 || e.code === q;
        }).slice(0, 12);
        if (!hits.length) {
          list.appendChild(el("li", "covgap-search-none", T.search_none));
          return;
        }
        hits.forEach(function (e) {
          var li = el("li", "covgap-search-hit");
          li.tabIndex = 0;
          li.appendChild(el("span", "covgap-search-name", e.item.name));
          li.appendChild(el("span", "covgap-search-commune", e.item.commune));
          /* stopped here: choose() empties the list, and Leaflet would take a click on an
           * element no longer in the page for a click on the map, closing the new popup */
          li.addEventListener("click", function (ev) { L.DomEvent.stop(ev); choose(e); });
          li.addEventListener("keydown", function (ev) { if (ev.key === "Enter") choose(e); });
          list.appendChild(li);
        });
        list._hits = hits;
      }
      input.addEventListener("input", update);
      input.addEventListener("keydown", function (ev) {
        if (ev.key === "Enter" && list._hits && list._hits.length) choose(list._hits[0]);
        if (ev.key === "Escape") { input.value = ""; update(); }
      });
      return box;
    }
  });
  new Search().addTo(map);

  /* ---- buttons: fullscreen and measuring ---- */
  var SVG = "http://www.w3.org/2000/svg";
  function icon(paths) {
    /* A small line icon drawn with SVG paths (no icon font needed offline). */
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 16 16");
    svg.setAttribute("width", "16");
    svg.setAttribute("height", "16");
    svg.setAttribute("aria-hidden", "true");
    paths.forEach(function (d) {
      var path = document.createElementNS(SVG, "path");
      path.setAttribute("d", d);
      path.setAttribute("fill", "none");
      path.setAttribute("stroke", "currentColor");
      path.setAttribute("stroke-width", "1.8");
      svg.appendChild(path);
    });
    return svg;
  }
  var FULLSCREEN_ICON = ["M2 6V2h4", "M10 2h4v4", "M14 10v4h-4", "M6 14H2v-4"];
  var RULER_ICON = ["M1 11L11 1l4 4L5 15z", "M4 8l2 2", "M6 6l1.5 1.5", "M8 4l2 2"];

  function button(bar, title, paths, className) {
    var a = el("a", className);
    a.appendChild(icon(paths));
    a.href = "#";
    a.title = title;
    a.setAttribute("role", "button");
    a.setAttribute("aria-label", title);
    bar.appendChild(a);
    return a;
  }

  var Tools = L.Control.extend({
    options: { position: "topleft" },
    onAdd: function () {
      var bar = el("div", "leaflet-bar covgap-tools");
      L.DomEvent.disableClickPropagation(bar);
      var full = button(bar, T.fullscreen, FULLSCREEN_ICON, "covgap-fullscreen-button");
      var ruler = button(bar, T.measure, RULER_ICON, "covgap-measure-button");
      L.DomEvent.on(full, "click", function (ev) { L.DomEvent.preventDefault(ev); toggleFullscreen(); });
      L.DomEvent.on(ruler, "click", function (ev) { L.DomEvent.preventDefault(ev); toggleMeasure(ruler); });
      return bar;
    }
  });
  new Tools().addTo(map);

  function toggleFullscreen() {
    var box = map.getContainer();
    var doc = document;
    if (doc.fullscreenElement) {
      doc.exitFullscreen();
    } else if (box.requestFullscreen && doc.fullscreenEnabled) {
      box.requestFullscreen().catch(function () { box.classList.toggle("covgap-pseudo-fullscreen"); });
    } else {
      document.body.classList.toggle("covgap-pseudo-fullscreen");
    }
    setTimeout(function () { map.invalidateSize(); }, 200);
  }
  document.addEventListener("fullscreenchange", function () { map.invalidateSize(); });

  var measure = null;
  function formatDistance(m) {
    var locale = D.lang === "vi" ? "vi-VN" : "en-GB";
    if (m < 1000) return Math.round(m).toLocaleString(locale) + " m";
    return (m / 1000).toLocaleString(locale, { maximumFractionDigits: 2 }) + " km";
  }
  function toggleMeasure(buttonEl) {
    if (measure) {
      map.off("click", measure.onClick);
      map.removeLayer(measure.group);
      map.doubleClickZoom.enable();
      map.getContainer().classList.remove("covgap-measuring");
      buttonEl.classList.remove("covgap-active");
      measure = null;
      return;
    }
    var group = L.featureGroup().addTo(map);
    var line = L.polyline([], { color: "#d7191c", weight: 3, dashArray: "4 4", interactive: false }).addTo(group);
    var label = L.tooltip({ permanent: true, direction: "right", className: "covgap-measure-label" });
    var total = 0;
    measure = {
      group: group,
      onClick: function (ev) {
        var pts = line.getLatLngs();
        if (pts.length) total += map.distance(pts[pts.length - 1], ev.latlng);
        line.addLatLng(ev.latlng);
        L.circleMarker(ev.latlng, { radius: 3, color: "#d7191c", interactive: false }).addTo(group);
        label.setLatLng(ev.latlng).setContent(textNode(T.measure_total + ": " + formatDistance(total)));
        if (!group.hasLayer(label)) group.addLayer(label);
      }
    };
    label.setLatLng(map.getCenter()).setContent(textNode(T.measure_hint));
    group.addLayer(label);
    map.on("click", measure.onClick);
    map.doubleClickZoom.disable();
    map.getContainer().classList.add("covgap-measuring");
    buttonEl.classList.add("covgap-active");
  }

  window.covgapMap = {
    map: map, layers: byId, villages: villageIndex, fold: fold, control: control,
    small: SMALL, timeline: timeline, rasters: loadedRasters, declutter: declutter
  };
})();
