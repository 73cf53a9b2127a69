/* covgap map: draws the basemaps, layers, legends, search, measuring tool and
 * fullscreen button from the JSON in #covgap-data onto the Leaflet map that
 * folium created (its JavaScript name is D.map).  Every text from data reaches the page
 * through textContent (never innerHTML), so names cannot inject markup.
 * No network access: everything the page needs is inlined. */
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("covgap-data").textContent);
  var T = D.labels;

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

  /* ---- basemaps ---- */
  var bases = [];
  D.basemaps.forEach(function (b) {
    var layer;
    if (b.url) {
      layer = L.tileLayer(b.url, { attribution: b.attribution, maxZoom: b.maxZoom, subdomains: "abc" });
    } else if (b.image) {
      layer = L.imageOverlay(b.image, b.bounds, { pane: "covgap-basemap", interactive: false, className: "covgap-hillshade" });
    } else {
      layer = L.layerGroup();
    }
    bases.push({ name: b.name, layer: layer, spec: b });
  });
  bases[0].layer.addTo(map);

  /* ---- overlays ---- */
  var byId = {};
  var villageIndex = [];

  function addPopup(layer, heading, rows) {
    layer.bindPopup(function () { return table(heading, rows); }, { maxWidth: 340 });
  }

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
      points.addLayer(marker);
      villageIndex.push({ item: v, marker: marker, key: fold(v.name), code: fold(v.code) });
    });
    group.addLayer(polys);
    group.addLayer(points);
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
      group.addLayer(L.tooltip({ permanent: true, direction: "center", className: "covgap-commune-label", interactive: false, pane: "covgap-labels" })
        .setLatLng(c.at).setContent(textNode(c.name)));
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
      group.addLayer(m);
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

  function buildPlan(spec, group) {
    spec.items.forEach(function (p) {
      var badge = el("div", "covgap-rank", p.rank);
      badge.style.background = spec.colour;
      var m = L.marker(p.at, {
        icon: L.divIcon({ html: badge, className: "covgap-rank-icon", iconSize: [24, 24], iconAnchor: [12, 12] }),
        zIndexOffset: 1000 - p.rank
      });
      m.bindTooltip(textNode(p.title));
      addPopup(m, p.heading, p.rows);
      group.addLayer(m);
    });
  }

  var overlays = [];
  D.layers.forEach(function (spec) {
    var group = L.featureGroup();
    if (spec.kind === "image") {
      group.addLayer(L.imageOverlay(spec.image, spec.bounds, {
        pane: "covgap-raster", interactive: false, className: "covgap-raster covgap-raster-" + spec.id
      }));
    } else if (spec.kind === "villages") buildVillages(spec, group);
    else if (spec.kind === "communes") buildCommunes(spec, group);
    else if (spec.kind === "grid") buildGrid(spec, group);
    else if (spec.kind === "towers") buildTowers(spec, group);
    else if (spec.kind === "plan") buildPlan(spec, group);
    else if (spec.kind === "sectors") buildSectors(spec, group);
    byId[spec.id] = { spec: spec, layer: group };
    overlays.push({ name: spec.name, layer: group, spec: spec });
    if (spec.show) group.addTo(map);
  });

  /* ---- layer control (names set as text, not HTML) ---- */
  var control = L.control.layers(null, null, { collapsed: false, position: "topright" });
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
      toggle.setAttribute("aria-expanded", "true");
      head.appendChild(toggle);
      box.appendChild(head);
      var body = el("div", "covgap-legend-body");
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
          li.addEventListener("click", function () { choose(e); });
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

  window.covgapMap = { map: map, layers: byId, villages: villageIndex, fold: fold, control: control };
})();
