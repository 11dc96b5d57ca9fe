/* Yizhan drivers' map: base labels, stations, nearest by road, routes, along-route search,
 * place search ("where am I"), station card in a bottom sheet.
 *
 * Plain JS, no build step. Data arrive as JSON in #yz-data (stations in compact form, see
 * webmap/serialize.py and webmap/driver.py; place labels and corridor shields; open/closed
 * per station judged by the server in China time) and from /api/nearest, /api/route,
 * /api/along-route and /api/places. Every piece of data is written with textContent (never
 * innerHTML), so a station or place name is always text. Server error messages are never
 * shown: errors are explained from their `code` and `fields` in the page's language.
 *
 * Stable hooks (tests and other scripts rely on them; keep them):
 *   body[data-ready="1"]                 the page script has run
 *   path.station-marker[data-station=ID] a station's marker (.closed when closed now)
 *   #results li[data-id=ID]              a nearest result (.first, .closed) with
 *       .result-btn .result-name .result-meta .result-open
 *   #card[data-id=ID]                    the chosen station's card: .card-name .card-meta
 *       .card-open .actions a.nav-amap a.nav-baidu a.call-station a.call-12328
 *   path.route-line[data-station=ID]     the road route to the chosen station
 *   #place-form #place-q #place-results li button   place search
 *   #along-form #along-to #along-results li[data-id] path.along-line   along my route
 *   .place-label .corridor-shield        base-map labels (visible ones lack .hidden)
 */
(function () {
  "use strict";

  var data = JSON.parse(document.getElementById("yz-data").textContent);
  var T = data.t;
  var map = window[data.map];
  if (!map) { return; }

  var byId = {};
  data.stations.forEach(function (s) { byId[s.i] = s; });

  var state = {
    origin: null,          // [lon, lat]
    dest: null,            // {x, y, n}
    amenities: [],         // amenity keys required
    minPower: null,        // kW per bay
    openNow: false,
    picking: false,        // next map tap sets the along-route destination
    seqNearest: 0,         // drop answers to superseded questions
    seqAlong: 0,
    seqRoute: 0,
    seqPlace: 0,
    results: {},           // station id -> last nearest result (road_km, drive_min, open_now, ...)
    open: data.open || {}  // station id -> [open now, next opening ISO] (server, China time)
  };

  map.createPane("labels");
  map.getPane("labels").style.zIndex = 450;
  map.getPane("labels").style.pointerEvents = "none";
  var layers = {
    labels: L.layerGroup().addTo(map),
    stations: L.layerGroup().addTo(map),
    route: L.layerGroup().addTo(map),
    along: L.layerGroup().addTo(map),
    origin: L.layerGroup().addTo(map)
  };
  var markers = {};

  // ------------------------------------------------------------------ helpers
  function $(id) { return document.getElementById(id); }

  function fmt(template, vars) {
    return String(template).replace(/\{(\w+)\}/g, function (_, k) {
      return vars && vars[k] !== undefined && vars[k] !== null ? String(vars[k]) : "";
    });
  }

  function el(tag, className, text) {
    var e = document.createElement(tag);
    if (className) { e.className = className; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }

  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }

  function num(value, digits) {
    var n = Number(value);
    return isFinite(n) ? n.toFixed(digits) : "–";
  }

  function nameOf(s) { return (data.lang === "en" && s.ne) ? s.ne : s.n; }

  function latlng(lonlat) { return [lonlat[1], lonlat[0]]; }

  function safeHref(url, schemes) {
    try {
      var u = new URL(url, window.location.href);
      return schemes.indexOf(u.protocol) >= 0 ? u.href : null;
    } catch (e) { return null; }
  }

  function ApiError(status, code, fields) {
    this.status = status; this.code = code || "error"; this.fields = fields || {};
  }

  function getJSON(url) {
    return fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .catch(function () { throw new ApiError(0, "network"); })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (body) {
          if (!r.ok) {
            var err = (body && body.error) || {};
            throw new ApiError(r.status, err.code, err.fields);
          }
          return body;
        });
      });
  }

  // An error in the page's language, from its code and field names (never its message,
  // which is written for developers and may name command-line flags).
  function errorText(err) {
    if (!(err instanceof ApiError)) { return fmt(T.err_generic, { status: "JS" }); }
    var f = err.fields || {};
    var names = Object.keys(f);
    var said = names.map(function (k) { return String(f[k]); }).join(" ");
    if (err.code === "network") { return T.err_network; }
    if (err.status === 429 || err.code === "too_many_requests" || err.code === "rate_limited") { return T.err_busy; }
    if (err.code === "not_found") { return T.err_not_found; }
    if (/outside|region|boundary/i.test(err.code + " " + said)) { return T.err_outside; }
    if (names.some(function (k) { return /^(lon|lat|from|to|coords|point)$/.test(k); })) { return T.err_point; }
    if (names.indexOf("detour_km") >= 0) { return T.err_detour; }
    if (names.indexOf("k") >= 0) { return T.err_k; }
    if (names.indexOf("q") >= 0 || names.indexOf("limit") >= 0) { return T.err_place_query; }
    if (names.some(function (k) { return /amenit|power|open/.test(k); })) { return T.err_filter; }
    return fmt(T.err_generic, { status: err.status || err.code });
  }

  // "HH:MM" of an ISO time, and whether it falls on a later day than now in China time.
  var dayFmt = (function () {
    try { return new Intl.DateTimeFormat("en-CA", { timeZone: data.tz || "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit" }); }
    catch (e) { return null; }
  })();
  function openText(open) {
    if (!open || open[0]) { return T.open_badge; }
    var iso = String(open[1] || "");
    var time = iso.slice(11, 16);
    var today = dayFmt ? dayFmt.format(new Date()) : iso.slice(0, 10);
    return fmt(iso.slice(0, 10) > today ? T.closed_tomorrow : T.closed_until, { time: time });
  }
  function isOpen(id) { var o = state.open[id]; return !o || !!o[0]; }

  function tooltipNode(text) { return el("span", "tip", text); }

  // ------------------------------------------------------------------ stations
  function matches(s) {
    var offered = s.a || [];
    for (var i = 0; i < state.amenities.length; i++) {
      if (offered.indexOf(state.amenities[i]) < 0) { return false; }
    }
    if (state.minPower && !((s.mk || 0) >= state.minPower)) { return false; }
    if (state.openNow && !isOpen(s.i)) { return false; }
    return true;
  }

  function markerStyle(s, on) {
    var charging = (s.mk || 0) >= 600;
    var open = isOpen(s.i);
    return {
      radius: 9,
      weight: 2,
      color: on ? "#ffffff" : "#8a8a8a",
      fillColor: !open ? "#8f98a3" : (charging ? "#138a36" : "#0b3d91"),
      fillOpacity: on ? (open ? 0.95 : 0.7) : 0.25,
      opacity: on ? 1 : 0.5,
      dashArray: open ? null : "3 3"
    };
  }

  function drawStations() {
    data.stations.forEach(function (s) {
      var m = L.circleMarker([s.y, s.x], markerStyle(s, true));
      m.bindTooltip(tooltipNode(nameOf(s) + (isOpen(s.i) ? "" : " · " + openText(state.open[s.i]))), { direction: "top" });
      m.on("click", function (ev) {
        L.DomEvent.stopPropagation(ev);
        choose(s.i, { pan: false });
      });
      m.addTo(layers.stations);
      markers[s.i] = m;
      var path = m.getElement && m.getElement();
      if (path) { path.setAttribute("data-station", s.i); path.classList.add("station-marker"); }
    });
    restyleStations();
  }

  function restyleStations() {
    data.stations.forEach(function (s) {
      var m = markers[s.i];
      if (!m) { return; }
      m.setStyle(markerStyle(s, matches(s)));
      var path = m.getElement && m.getElement();
      if (path) { path.classList.toggle("closed", !isOpen(s.i)); }
    });
  }

  // ------------------------------------------------------------------ base labels
  // County seats, towns, service areas, hubs and interchanges from the region's gazetteer,
  // and corridor shields: drawn by the app, so the map orients without any tile server.
  // Each label has a smallest zoom; then labels are placed by rank and any that would
  // overlap one already placed is hidden (so the map stays legible at every zoom).
  var labelItems = [];
  var originLabel = null;
  function labelIcon(text, className) {
    var node = el("span", className, text);
    return L.divIcon({ html: node, className: "label-icon", iconSize: null });
  }
  function drawLabels() {
    (data.shields || []).forEach(function (sh) {
      var m = L.marker([sh.y, sh.x], { icon: labelIcon(sh.t, "corridor-shield road-" + sh.c), pane: "labels", interactive: false, keyboard: false });
      labelItems.push({ m: m, z: sh.z || 0, r: sh.z ? 2.5 : 1.5 });
      m.addTo(layers.labels);
    });
    (data.labels || []).forEach(function (lb) {
      var m = L.marker([lb.y, lb.x], { icon: labelIcon(lb.t, "place-label kind-" + lb.k), pane: "labels", interactive: false, keyboard: false });
      labelItems.push({ m: m, z: lb.z, r: lb.r });
      m.addTo(layers.labels);
    });
    labelItems.sort(function (a, b) { return a.r - b.r; });
    placeLabels();
    map.on("zoomend moveend resize", placeLabels);
  }
  function placeLabels() {
    var zoom = map.getZoom();
    var size = map.getSize();
    // the map's own buttons and controls count as placed: no label hides under them
    var origin = map.getContainer().getBoundingClientRect();
    var placed = Array.prototype.map.call(
      document.querySelectorAll("#mapwrap .mapbuttons, #mapwrap .leaflet-control"),
      function (n) { var r = n.getBoundingClientRect(); return [r.left - origin.left, r.top - origin.top, r.right - origin.left, r.bottom - origin.top]; });
    (originLabel ? [originLabel] : []).concat(labelItems).forEach(function (item) {
      var node = item.m.getElement() && item.m.getElement().firstChild;
      if (!node) { return; }
      var show = zoom >= item.z;
      if (show) {
        var p = map.latLngToContainerPoint(item.m.getLatLng());
        var w = node.offsetWidth || 40, h = node.offsetHeight || 16;
        var box = [p.x - w / 2 - 3, p.y - h / 2 - 3, p.x + w / 2 + 3, p.y + h / 2 + 3];
        var inside = box[0] >= 0 && box[2] <= size.x && box[1] >= 0 && box[3] <= size.y;
        show = inside && !placed.some(function (o) { return box[0] < o[2] && o[0] < box[2] && box[1] < o[3] && o[1] < box[3]; });
        if (show) { placed.push(box); }
      }
      node.classList.toggle("hidden", !show);
    });
  }

  // ------------------------------------------------------------------ origin
  function setOrigin(lon, lat, how) {
    state.origin = [lon, lat];
    layers.origin.clearLayers();
    var mine = how && how.gps;
    if (mine && how.accuracy) {
      L.circle([lat, lon], { radius: Math.min(how.accuracy, 3000), color: "#1a73e8", weight: 1, fillColor: "#1a73e8", fillOpacity: 0.12, interactive: false })
        .addTo(layers.origin);
    }
    var label = how && how.name ? how.name : (mine ? T.your_position : T.your_point);
    L.circleMarker([lat, lon], mine
      ? { radius: 8, color: "#ffffff", weight: 3, fillColor: "#1a73e8", fillOpacity: 1, className: "origin-marker" }
      : { radius: 7, color: "#d7191c", weight: 3, fillColor: "#fff", fillOpacity: 1, className: "origin-marker" })
      .addTo(layers.origin);
    // the position's own label wins the label placement (other labels make way for it)
    var tag = L.marker([lat, lon], { icon: labelIcon(label, "place-label origin-label"), pane: "labels", interactive: false, keyboard: false });
    tag.addTo(layers.origin);
    originLabel = { m: tag, z: 0, r: -1 };
    placeLabels();
    $("along-from").textContent = T.along_from + ": " + (how && how.name ? how.name : num(lat, 4) + ", " + num(lon, 4));
    if (!$("tab-along").hidden && state.dest) {
      queryAlong();
    } else {
      queryNearest();
    }
  }

  // ------------------------------------------------------------------ nearest
  function nearestURL() {
    var p = new URLSearchParams();
    p.set("lon", state.origin[0].toFixed(6));
    p.set("lat", state.origin[1].toFixed(6));
    p.set("k", String(data.k));
    p.set("route", "1");
    filterParams(p);
    return data.api.nearest + "?" + p.toString();
  }

  // The filter chips, as both APIs take them (along a route, "open" means open on arrival).
  function filterParams(p) {
    state.amenities.forEach(function (a) { p.append("amenity", a); });
    if (state.minPower) { p.set("min_power_kw", String(state.minPower)); }
    if (state.openNow) { p.set("open_now", "1"); }
  }

  function queryNearest() {
    if (!state.origin) { return; }
    var seq = ++state.seqNearest;
    var list = $("results");
    $("hint").textContent = T.loading;
    getJSON(nearestURL()).then(function (body) {
      if (seq !== state.seqNearest) { return; }
      renderNearest(body);
    }).catch(function (err) {
      if (seq !== state.seqNearest) { return; }
      clear(list);
      layers.route.clearLayers();
      $("card").hidden = true;
      $("hint").textContent = errorText(err);
    });
  }

  function resultMeta(r, s) {
    var parts = [fmt(T.road_km, { km: num(r.road_km, 1) }), fmt(T.drive_min, { min: num(r.drive_min, 0) })];
    if (s.loc) { parts.push(fmt(T.near, { place: s.loc })); }
    return parts.join(" · ");
  }

  function renderNearest(body) {
    var list = $("results");
    clear(list);
    layers.route.clearLayers();
    var results = body.results || [];
    $("hint").textContent = results.length ? "" : T.no_results;
    list.setAttribute("data-count", String(results.length));
    state.results = {};
    results.forEach(function (r, i) {
      state.results[r.id] = r;
      if (r.open_now !== undefined) { state.open[r.id] = [r.open_now, r.opens_at]; }
      var s = byId[r.id] || { i: r.id, n: r.name };
      var li = el("li", "result" + (r.open_now === false ? " closed" : ""));
      li.setAttribute("data-id", r.id);
      var btn = el("button", "result-btn");
      btn.type = "button";
      btn.appendChild(el("span", "result-name", nameOf(s)));
      btn.appendChild(el("span", "result-meta", resultMeta(r, s)));
      btn.appendChild(el("span", "result-open " + (r.open_now === false ? "is-closed" : "is-open"), openText(state.open[r.id])));
      btn.addEventListener("click", function () { choose(r.id, { pan: true }); });
      li.appendChild(btn);
      list.appendChild(li);
      if (i === 0) { li.classList.add("first"); }
    });
    restyleStations();
    if (!results.length) { $("card").hidden = true; return; }
    var route = body.route;
    var first = results[0].id;
    choose(first, { pan: true, route: route && route.station === first ? route.coordinates : null });
  }

  // Choose a station: card in the sheet, its marker in view, its road route drawn (when
  // there is an origin). Used for every result, not only the first.
  function choose(id, opts) {
    opts = opts || {};
    showCard(id);
    document.querySelectorAll("#results li").forEach(function (li) {
      li.classList.toggle("chosen", li.getAttribute("data-id") === id);
    });
    var s = byId[id];
    if (!state.origin || !s) {
      if (s && opts.pan) { map.invalidateSize({ pan: false }); map.panTo([s.y, s.x], { animate: false }); }
      return;
    }
    if (opts.route) { drawRoute(id, opts.route); return; }
    var seq = ++state.seqRoute;
    var p = new URLSearchParams();
    p.set("lon", state.origin[0].toFixed(6));
    p.set("lat", state.origin[1].toFixed(6));
    p.set("station", id);
    if (opts.pan) { map.panTo([s.y, s.x], { animate: false }); }
    getJSON(data.api.route + "?" + p.toString()).then(function (body) {
      if (seq !== state.seqRoute) { return; }
      drawRoute(id, body.route);
    }).catch(function () {
      if (seq !== state.seqRoute) { return; }
      layers.route.clearLayers();
      $("hint").textContent = T.route_failed;
    });
  }

  function drawRoute(id, coords) {
    layers.route.clearLayers();
    var s = byId[id];
    map.invalidateSize({ pan: false });
    var pts = (coords || []).map(latlng);
    if (s) { pts.push([s.y, s.x]); }
    if (state.origin) { pts.unshift(latlng(state.origin)); }
    if (pts.length > 1) {
      var line = L.polyline(pts, { color: "#d7191c", weight: 5, opacity: 0.85, className: "route-line" });
      line.bindTooltip(tooltipNode(fmt(T.route_to, { name: s ? nameOf(s) : id })));
      line.addTo(layers.route);
      var path = line.getElement && line.getElement();
      if (path) { path.setAttribute("data-station", id); }
      // leave the map's buttons (bottom right) clear of the route and the station
      map.fitBounds(line.getBounds().pad(0.2), { maxZoom: 10, animate: false, paddingTopLeft: [10, 10], paddingBottomRight: [10, 60] });
    }
    var m = markers[id];
    if (m) { m.bringToFront(); }
  }

  // ------------------------------------------------------------------ card
  function badge(text, on, extra) {
    var b = el("span", "badge " + (on ? "on" : "off") + (extra ? " " + extra : ""), text);
    if (!on) { b.setAttribute("aria-label", text + " ✗"); }
    return b;
  }

  function row(dl, label, valueNode) {
    dl.appendChild(el("dt", null, label));
    var dd = el("dd");
    if (typeof valueNode === "string") { dd.textContent = valueNode; } else { dd.appendChild(valueNode); }
    dl.appendChild(dd);
  }

  var SEVEN = ["parking", "rest", "dining", "shower", "laundry", "toilet", "other"];
  var FREE = ["free_parking_rest", "free_hot_water", "free_food_reheat", "free_shower", "free_laundry"];

  function showCard(id) {
    var s = byId[id];
    if (!s) { return; }
    var card = $("card");
    clear(card);
    card.setAttribute("data-id", s.i);

    // First screen: name, distance and time, open or closed, navigate and call.
    var head = el("div", "card-head");
    head.appendChild(el("h2", "card-name", nameOf(s)));
    var close = el("button", "close", T.close);
    close.type = "button";
    close.addEventListener("click", function () { card.hidden = true; });
    head.appendChild(close);
    card.appendChild(head);

    var r = state.results[s.i];
    var meta = el("p", "card-meta");
    if (r) { meta.appendChild(el("span", "card-dist", fmt(T.road_km, { km: num(r.road_km, 1) }) + " · " + fmt(T.drive_min, { min: num(r.drive_min, 0) }))); }
    meta.appendChild(el("span", "card-open " + (isOpen(s.i) ? "is-open" : "is-closed"), openText(state.open[s.i])));
    card.appendChild(meta);

    var actions = el("div", "actions");
    var amap = safeHref(s.na, ["https:"]);
    var baidu = safeHref(s.nb, ["https:"]);
    if (amap) { actions.appendChild(link(amap, T.nav_amap, "nav nav-amap")); }
    if (baidu) { actions.appendChild(link(baidu, T.nav_baidu, "nav nav-baidu")); }
    if (s.p) {
      var tel = safeHref("tel:" + s.p.replace(/[^0-9+]/g, ""), ["tel:"]);
      if (tel) {
        var call = link(tel, T.call_station, "call-station secondary");
        call.removeAttribute("target");
        actions.appendChild(call);
      }
    }
    var hotline = link("tel:12328", T.call_12328, "call-12328");
    hotline.removeAttribute("target");
    actions.appendChild(hotline);
    card.appendChild(actions);

    // Then the details.
    var sub = [T.kind[s.k] || s.k, s.loc ? fmt(T.near, { place: s.loc }) : null, s.cn, s.co].filter(Boolean).join(" · ");
    card.appendChild(el("p", "card-sub", sub));
    if (s.ds) {
      card.appendChild(el("p", "status status-" + s.ds, T.card_status + ": " + (T["status_" + s.ds] || s.ds)));
    }

    var offered = s.a || [];
    card.appendChild(el("h3", null, T.card_services));
    var b7 = el("div", "badges");
    SEVEN.forEach(function (k) { b7.appendChild(badge(T.amenity[k] || k, offered.indexOf(k) >= 0)); });
    card.appendChild(b7);
    card.appendChild(el("h3", null, T.card_free));
    var bf = el("div", "badges");
    FREE.forEach(function (k) { bf.appendChild(badge(T.amenity[k] || k, offered.indexOf(k) >= 0, "free")); });
    card.appendChild(bf);
    var extras = offered.filter(function (k) { return SEVEN.indexOf(k) < 0 && FREE.indexOf(k) < 0; });
    if (extras.length) {
      card.appendChild(el("h3", null, T.card_extras));
      var be = el("div", "badges");
      extras.forEach(function (k) { be.appendChild(badge(T.amenity[k] || k, true)); });
      card.appendChild(be);
    }

    var dl = el("dl", "facts");
    var charging = el("div", "charging");
    if (s.b && s.b.length) {
      s.b.forEach(function (bay) {
        charging.appendChild(el("div", "bay", fmt(T.card_bays, { count: bay[0], kw: num(bay[1], 0) })));
      });
      charging.appendChild(el("div", "total", fmt(T.card_total_kw, { kw: num(s.tk, 0) })));
    } else {
      charging.appendChild(el("div", null, T.card_no_charging));
    }
    if (s.sw) { charging.appendChild(el("div", null, T.card_swap)); }
    row(dl, T.card_charging, charging);
    if (s.pb !== undefined) { row(dl, T.card_parking, String(s.pb)); }
    if (s.h) { row(dl, T.card_hours, s.h === "24h" ? T.card_24h : s.h); }
    if (s.ad) { row(dl, T.card_address, s.ad); }
    else if (s.loc) { row(dl, T.card_location, [fmt(T.near, { place: s.loc }), s.cn].filter(Boolean).join(" · ")); }
    if (s.p) {
      var telp = safeHref("tel:" + s.p.replace(/[^0-9+]/g, ""), ["tel:"]);
      var phone = el("a", "phone", s.p);
      if (telp) { phone.href = telp; }
      row(dl, T.card_phone, phone);
    }
    if (s.d) { row(dl, T.card_as_of, s.d); }
    card.appendChild(dl);

    card.hidden = false;
    $("panel").scrollTop = 0;
    var m = markers[s.i];
    if (m) { m.bringToFront(); }
  }

  function link(href, text, className) {
    var a = el("a", "button " + className, text);
    a.href = href;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    return a;
  }

  // ------------------------------------------------------------------ places
  // /api/places: the embedded gazetteer (Chinese, pinyin, English; partial input).
  function placeName(p) { return (data.lang === "en" && p.name_en) ? p.name_en : p.name_zh; }
  function placeSub(p) {
    var county = data.lang === "en" ? p.county_en : p.county_zh;
    return [T.kind_place && T.kind_place[p.kind], county].filter(Boolean).join(" · ");
  }
  function findPlaces(q, limit) {
    var p = new URLSearchParams();
    p.set("q", q);
    p.set("limit", String(limit || 6));
    return getJSON(data.api.places + "?" + p.toString()).then(function (body) { return body.results || []; });
  }

  // "Where am I": when locating is denied or not wanted, a typed place is the origin.
  var placeTimer = null;
  function openPlaceSearch(message) {
    $("place-form").hidden = false;
    $("place-msg").textContent = message || "";
    $("panel").scrollTop = 0;
  }
  function searchPlaces() {
    var q = $("place-q").value.trim();
    var list = $("place-results");
    var seq = ++state.seqPlace;
    if (!q) { clear(list); return; }
    findPlaces(q, 6).then(function (found) {
      if (seq !== state.seqPlace) { return; }
      clear(list);
      $("place-msg").textContent = found.length ? "" : fmt(T.place_none, { q: q });
      found.forEach(function (p) {
        var li = el("li");
        li.setAttribute("data-id", p.id);
        var b = el("button", "place-btn");
        b.type = "button";
        b.appendChild(el("span", "place-name", placeName(p)));
        b.appendChild(el("span", "place-sub", placeSub(p)));
        b.addEventListener("click", function () {
          clear(list);
          $("place-q").value = placeName(p);
          $("place-msg").textContent = fmt(T.place_chosen, { name: placeName(p) });
          map.setView([p.lat, p.lon], Math.max(map.getZoom(), 10), { animate: false });
          setOrigin(p.lon, p.lat, { name: placeName(p) });
        });
        li.appendChild(b);
        list.appendChild(li);
      });
    }).catch(function (err) {
      if (seq !== state.seqPlace) { return; }
      $("place-msg").textContent = errorText(err);
    });
  }

  // ------------------------------------------------------------------ along route
  var destinations = [];
  function fillDestinations() {
    var list = $("dest-list");
    var seen = {};
    data.stations.forEach(function (s) { destinations.push({ n: nameOf(s), x: s.x, y: s.y }); });
    destinations.forEach(function (d) {
      if (seen[d.n]) { return; }
      seen[d.n] = true;
      var o = document.createElement("option");
      o.value = d.n;
      list.appendChild(o);
    });
  }

  function findDestination(text) {
    var q = String(text || "").trim();
    for (var i = 0; i < destinations.length; i++) {
      if (destinations[i].n === q) { return destinations[i]; }
    }
    return null;
  }

  function setDest(d) {
    state.dest = d;
    $("along-to").value = d.n;
    layers.along.clearLayers();
    L.circleMarker([d.y, d.x], { radius: 8, color: "#7b3294", weight: 3, fillColor: "#fff", fillOpacity: 1 })
      .bindTooltip(tooltipNode(d.n)).addTo(layers.along);
  }

  // Typed destinations are looked up in the gazetteer; suggestions join the datalist.
  var destTimer = null;
  function suggestDestinations() {
    var q = $("along-to").value.trim();
    if (!q || findDestination(q)) { return; }
    findPlaces(q, 6).then(function (found) {
      var list = $("dest-list");
      found.forEach(function (p) {
        var d = { n: placeName(p), x: p.lon, y: p.lat };
        if (findDestination(d.n)) { return; }
        destinations.push(d);
        var o = document.createElement("option");
        o.value = d.n;
        list.appendChild(o);
      });
    }).catch(function () { /* suggestions are optional */ });
  }

  function queryAlong() {
    var summary = $("along-summary");
    var list = $("along-results");
    if (!state.origin) { summary.textContent = T.along_need_from; return; }
    var typed = $("along-to").value.trim();
    if (!state.dest || state.dest.n !== typed) {
      var d = findDestination(typed);
      if (!d) {
        if (!typed) { summary.textContent = T.along_need_to; return; }
        summary.textContent = T.loading;
        findPlaces(typed, 1).then(function (found) {
          if (!found.length) { summary.textContent = fmt(T.along_unknown_to, { name: typed }); return; }
          var p = found[0];
          var dest = { n: placeName(p), x: p.lon, y: p.lat };
          destinations.push(dest);
          setDest(dest);
          queryAlong();
        }).catch(function (err) { summary.textContent = errorText(err); });
        return;
      }
      setDest(d);
    }
    var p = new URLSearchParams();
    p.set("from", state.origin[0].toFixed(6) + "," + state.origin[1].toFixed(6));
    p.set("to", state.dest.x.toFixed(6) + "," + state.dest.y.toFixed(6));
    p.set("detour_km", $("along-detour").value);
    filterParams(p);
    var seq = ++state.seqAlong;
    summary.textContent = T.loading;
    clear(list);
    getJSON(data.api.along + "?" + p.toString()).then(function (body) {
      if (seq !== state.seqAlong) { return; }
      renderAlong(body);
    }).catch(function (err) {
      if (seq !== state.seqAlong) { return; }
      summary.textContent = errorText(err);
    });
  }

  function renderAlong(body) {
    var list = $("along-results");
    clear(list);
    layers.route.clearLayers();
    var stations = body.stations || [];
    var detour = $("along-detour").value;
    $("along-summary").textContent = fmt(T.along_summary, {
      km: num(body.route_km, 0), min: num(body.drive_min, 0), n: stations.length, d: detour
    });
    if (body.route && body.route.length > 1) {
      var line = L.polyline(body.route.map(latlng), { color: "#7b3294", weight: 5, opacity: 0.8, className: "along-line" });
      line.addTo(layers.route);
      map.fitBounds(line.getBounds().pad(0.15), { animate: false });
    }
    var limit = body.limit_point;
    var items = stations.map(function (r) { return { kind: "station", at: Number(r.at_km), r: r }; });
    if (limit && limit.lon !== undefined && limit.lon !== null) {
      items.push({ kind: "limit", at: Number(limit.at_km), r: limit });
      L.circleMarker([limit.lat, limit.lon], { radius: 10, color: "#d7191c", weight: 3, fillColor: "#fdae61", fillOpacity: 1, className: "limit-marker" })
        .bindTooltip(tooltipNode(fmt(T.along_limit, { km: num(limit.at_km, 0) })), { permanent: true, direction: "right" })
        .addTo(layers.route);
    }
    items.sort(function (a, b) { return a.at - b.at; });
    if (!stations.length) { $("along-summary").textContent += " " + T.along_none; }
    if (!limit || limit.lon === undefined || limit.lon === null) {
      $("along-summary").textContent += " " + fmt(T.along_no_limit, { h: body.max_drive_h || 4 });
    }
    items.forEach(function (item) {
      if (item.kind === "limit") {
        list.appendChild(el("li", "limit", fmt(T.along_limit, { km: num(item.r.at_km, 0) })));
        return;
      }
      var r = item.r;
      var s = byId[r.id] || { i: r.id, n: r.name };
      var li = el("li", "result" + (r.open_on_arrival === false ? " closed" : ""));
      li.setAttribute("data-id", r.id);
      li.setAttribute("data-at-km", String(r.at_km));
      var btn = el("button", "result-btn");
      btn.type = "button";
      btn.appendChild(el("span", "result-name", nameOf(s)));
      btn.appendChild(el("span", "result-meta",
        fmt(T.along_at_km, { km: num(r.at_km, 0) }) + " · " + fmt(T.along_detour_km, { km: num(r.detour_km, 1) })));
      if (r.arrives_at) {
        btn.appendChild(el("span", "result-open " + (r.open_on_arrival === false ? "is-closed" : "is-open"),
          fmt(T.along_arrive, { time: String(r.arrives_at).slice(11, 16) }) + " · " + openText([r.open_on_arrival, r.opens_at])));
      }
      btn.addEventListener("click", function () {
        showCard(r.id);
        if (markers[r.id]) { map.panTo(markers[r.id].getLatLng(), { animate: false }); }
      });
      li.appendChild(btn);
      list.appendChild(li);
    });
  }

  // ------------------------------------------------------------------ wiring
  function selectTab(name) {
    ["nearest", "along"].forEach(function (t) {
      $("tab-" + t).hidden = t !== name;
      $("tab-btn-" + t).setAttribute("aria-selected", t === name ? "true" : "false");
    });
    if (name === "nearest" && state.nearestStale) {
      state.nearestStale = false;
      queryNearest();
    }
  }

  document.querySelectorAll(".tab").forEach(function (btn) {
    btn.addEventListener("click", function () { selectTab(btn.getAttribute("data-tab")); });
  });

  document.querySelectorAll("#filters .chip").forEach(function (chip) {
    chip.addEventListener("click", function () {
      var on = chip.getAttribute("aria-pressed") !== "true";
      chip.setAttribute("aria-pressed", on ? "true" : "false");
      var amenity = chip.getAttribute("data-amenity");
      var power = chip.getAttribute("data-power");
      if (amenity) {
        state.amenities = state.amenities.filter(function (a) { return a !== amenity; });
        if (on) { state.amenities.push(amenity); }
      } else if (power) {
        document.querySelectorAll("#filters .chip-power").forEach(function (other) {
          if (other !== chip) { other.setAttribute("aria-pressed", "false"); }
        });
        state.minPower = on ? Number(power) : null;
      } else if (chip.getAttribute("data-filter") === "open_now") {
        state.openNow = on;
      }
      restyleStations();
      if (!$("tab-along").hidden && state.dest) {
        queryAlong();  // the trip on screen is asked again; the nearby list when its tab opens
        state.nearestStale = true;
      } else {
        queryNearest();
      }
    });
  });

  map.on("click", function (ev) {
    var lon = ev.latlng.lng, lat = ev.latlng.lat;
    if (state.picking) {
      state.picking = false;
      $("along-pick").classList.remove("active");
      setDest({ n: num(lat, 4) + ", " + num(lon, 4), x: lon, y: lat });
      destinations.push(state.dest);
      queryAlong();
      return;
    }
    setOrigin(lon, lat);
  });

  $("locate").addEventListener("click", function () {
    var hint = $("hint");
    if (!navigator.geolocation) {
      hint.textContent = fmt(T.locate_failed, { reason: T.geo_unsupported });
      openPlaceSearch(hint.textContent);
      return;
    }
    hint.textContent = T.locating;
    navigator.geolocation.getCurrentPosition(function (pos) {
      map.setView([pos.coords.latitude, pos.coords.longitude], Math.max(map.getZoom(), 10), { animate: false });
      setOrigin(pos.coords.longitude, pos.coords.latitude, { gps: true, accuracy: pos.coords.accuracy });
    }, function (err) {
      // the browser's own message is English developer text: say it in the page's language
      var reason = { 1: T.geo_denied, 2: T.geo_unavailable, 3: T.geo_timeout }[err && err.code] || T.geo_unavailable;
      hint.textContent = fmt(T.locate_failed, { reason: reason });
      openPlaceSearch(hint.textContent);
      $("place-q").focus();
    }, { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 });
  });

  $("place-open").addEventListener("click", function () {
    var form = $("place-form");
    if (form.hidden) { openPlaceSearch(""); $("place-q").focus(); } else { form.hidden = true; }
  });
  $("place-q").addEventListener("input", function () {
    clearTimeout(placeTimer);
    placeTimer = setTimeout(searchPlaces, 150);
  });
  $("place-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    searchPlaces();
  });
  $("along-to").addEventListener("input", function () {
    clearTimeout(destTimer);
    destTimer = setTimeout(suggestDestinations, 200);
  });

  $("filters-toggle").addEventListener("click", function () {
    var open = this.getAttribute("aria-expanded") !== "true";
    this.setAttribute("aria-expanded", open ? "true" : "false");
    this.textContent = open ? T.filters_less : T.filters_all;
    $("filters").classList.toggle("expanded", open);
    map.invalidateSize();
  });

  $("along-pick").addEventListener("click", function () {
    state.picking = true;
    this.classList.add("active");
    $("along-summary").textContent = T.along_pick_now;
  });

  $("along-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    queryAlong();
  });

  // No tile layer, no attribution: Leaflet's own credit line would claim a map nobody drew.
  if (!data.tiles && map.attributionControl) { map.attributionControl.remove(); }
  // The sheet grows and shrinks with its content: keep Leaflet's idea of the map size true,
  // so that fitting a route or panning to a marker uses the part of the map one can see.
  if (window.ResizeObserver) {
    new ResizeObserver(function () { map.invalidateSize({ pan: false }); }).observe($("mapwrap"));
  }
  map.fitBounds(data.bounds, { animate: false });
  drawLabels();
  drawStations();
  fillDestinations();
  document.body.setAttribute("data-ready", "1");
})();
