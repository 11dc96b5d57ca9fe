/* Yizhan drivers' map: stations, nearest by road, along-route search, station card.
 *
 * Plain JS, no build step. Data arrive as JSON in #yz-data (stations in compact form,
 * see webmap/serialize.py) and from /api/nearest and /api/along-route. Every piece of
 * data is written with textContent (never innerHTML), so a station name is always text.
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
    seqAlong: 0
  };

  var layers = {
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

  function getJSON(url) {
    return fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (r) {
        return r.json().then(function (body) {
          if (!r.ok) {
            var err = (body && body.error) || {};
            throw new Error(err.message || ("HTTP " + r.status));
          }
          return body;
        });
      });
  }

  function tooltipNode(text) { return el("span", "tip", text); }

  // ------------------------------------------------------------------ stations
  function matches(s) {
    var offered = s.a || [];
    for (var i = 0; i < state.amenities.length; i++) {
      if (offered.indexOf(state.amenities[i]) < 0) { return false; }
    }
    if (state.minPower && !((s.mk || 0) >= state.minPower)) { return false; }
    return true;
  }

  function markerStyle(s, on) {
    var charging = (s.mk || 0) >= 600;
    return {
      radius: 9,
      weight: 2,
      color: on ? "#ffffff" : "#8a8a8a",
      fillColor: charging ? "#138a36" : "#0b3d91",
      fillOpacity: on ? 0.95 : 0.25,
      opacity: on ? 1 : 0.5
    };
  }

  function drawStations() {
    data.stations.forEach(function (s) {
      var m = L.circleMarker([s.y, s.x], markerStyle(s, true));
      m.bindTooltip(tooltipNode(nameOf(s)), { direction: "top" });
      m.on("click", function (ev) {
        L.DomEvent.stopPropagation(ev);
        showCard(s.i);
      });
      m.addTo(layers.stations);
      markers[s.i] = m;
      var path = m.getElement && m.getElement();
      if (path) { path.setAttribute("data-station", s.i); path.classList.add("station-marker"); }
    });
  }

  function restyleStations() {
    data.stations.forEach(function (s) {
      var m = markers[s.i];
      if (m) { m.setStyle(markerStyle(s, matches(s))); }
    });
  }

  // ------------------------------------------------------------------ origin
  function setOrigin(lon, lat) {
    state.origin = [lon, lat];
    layers.origin.clearLayers();
    L.circleMarker([lat, lon], { radius: 7, color: "#d7191c", weight: 3, fillColor: "#fff", fillOpacity: 1 })
      .bindTooltip(tooltipNode(T.your_point))
      .addTo(layers.origin);
    $("along-from").textContent = T.along_from + ": " + num(lat, 4) + ", " + num(lon, 4);
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
    state.amenities.forEach(function (a) { p.append("amenity", a); });
    if (state.minPower) { p.set("min_power_kw", String(state.minPower)); }
    if (state.openNow) { p.set("open_now", "1"); }
    return data.api.nearest + "?" + p.toString();
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
      $("hint").textContent = fmt(T.error, { message: err.message });
    });
  }

  function renderNearest(body) {
    var list = $("results");
    clear(list);
    layers.route.clearLayers();
    var results = body.results || [];
    $("hint").textContent = results.length ? "" : T.no_results;
    list.setAttribute("data-count", String(results.length));
    results.forEach(function (r, i) {
      var s = byId[r.id] || { i: r.id, n: r.name };
      var li = el("li", "result");
      li.setAttribute("data-id", r.id);
      var btn = el("button", "result-btn");
      btn.type = "button";
      btn.appendChild(el("span", "result-name", nameOf(s)));
      var meta = el("span", "result-meta",
        fmt(T.road_km, { km: num(r.road_km, 1) }) + " · " + fmt(T.drive_min, { min: num(r.drive_min, 0) }));
      btn.appendChild(meta);
      btn.addEventListener("click", function () { showCard(r.id); });
      li.appendChild(btn);
      list.appendChild(li);
      if (i === 0) { li.classList.add("first"); }
    });
    var route = body.route;
    if (route && route.coordinates && route.coordinates.length > 1) {
      var line = L.polyline(route.coordinates.map(latlng), { color: "#d7191c", weight: 5, opacity: 0.85, className: "route-line" });
      var target = byId[route.station];
      line.bindTooltip(tooltipNode(fmt(T.route_to, { name: target ? nameOf(target) : route.station })));
      line.addTo(layers.route);
      map.fitBounds(line.getBounds().pad(0.2), { maxZoom: 12, animate: false });
    }
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

    var head = el("div", "card-head");
    head.appendChild(el("h2", "card-name", nameOf(s)));
    var close = el("button", "close", T.close);
    close.type = "button";
    close.addEventListener("click", function () { card.hidden = true; });
    head.appendChild(close);
    card.appendChild(head);

    var sub = [T.kind[s.k] || s.k, s.cn, s.co].filter(Boolean).join(" · ");
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
    if (s.p) {
      var tel = safeHref("tel:" + s.p.replace(/[^0-9+]/g, ""), ["tel:"]);
      var phone = el("a", "phone", s.p);
      if (tel) { phone.href = tel; }
      row(dl, T.card_phone, phone);
    }
    if (s.d) { row(dl, T.card_as_of, s.d); }
    card.appendChild(dl);

    var actions = el("div", "actions");
    var amap = safeHref(s.na, ["https:"]);
    var baidu = safeHref(s.nb, ["https:"]);
    if (amap) { actions.appendChild(link(amap, T.nav_amap, "nav nav-amap")); }
    if (baidu) { actions.appendChild(link(baidu, T.nav_baidu, "nav nav-baidu")); }
    var hotline = link("tel:12328", T.call_12328, "call-12328");
    hotline.removeAttribute("target");
    actions.appendChild(hotline);
    card.appendChild(actions);

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

  // ------------------------------------------------------------------ along route
  var destinations = [];
  function fillDestinations() {
    var list = $("dest-list");
    var seen = {};
    data.stations.forEach(function (s) { destinations.push({ n: nameOf(s), x: s.x, y: s.y }); });
    (data.towns || []).forEach(function (t) {
      destinations.push({ n: (data.lang === "en" && t.ne) ? t.ne : t.n, x: t.x, y: t.y });
    });
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

  function queryAlong() {
    var summary = $("along-summary");
    var list = $("along-results");
    if (!state.origin) { summary.textContent = T.along_need_from; return; }
    var typed = $("along-to").value;
    if (!state.dest || state.dest.n !== typed.trim()) {
      var d = findDestination(typed);
      if (!d) { summary.textContent = typed.trim() ? fmt(T.along_unknown_to, { name: typed }) : T.along_need_to; return; }
      setDest(d);
    }
    var p = new URLSearchParams();
    p.set("from", state.origin[0].toFixed(6) + "," + state.origin[1].toFixed(6));
    p.set("to", state.dest.x.toFixed(6) + "," + state.dest.y.toFixed(6));
    p.set("detour_km", $("along-detour").value);
    var seq = ++state.seqAlong;
    summary.textContent = T.loading;
    clear(list);
    getJSON(data.api.along + "?" + p.toString()).then(function (body) {
      if (seq !== state.seqAlong) { return; }
      renderAlong(body);
    }).catch(function (err) {
      if (seq !== state.seqAlong) { return; }
      summary.textContent = fmt(T.error, { message: err.message });
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
      var li = el("li", "result");
      li.setAttribute("data-id", r.id);
      li.setAttribute("data-at-km", String(r.at_km));
      var btn = el("button", "result-btn");
      btn.type = "button";
      btn.appendChild(el("span", "result-name", nameOf(s)));
      btn.appendChild(el("span", "result-meta",
        fmt(T.along_at_km, { km: num(r.at_km, 0) }) + " · " + fmt(T.along_detour_km, { km: num(r.detour_km, 1) })));
      btn.addEventListener("click", function () { showCard(r.id); });
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
      queryNearest();
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
    if (!navigator.geolocation) { hint.textContent = fmt(T.locate_failed, { reason: "—" }); return; }
    hint.textContent = T.locating;
    navigator.geolocation.getCurrentPosition(function (pos) {
      setOrigin(pos.coords.longitude, pos.coords.latitude);
      map.setView([pos.coords.latitude, pos.coords.longitude], Math.max(map.getZoom(), 10), { animate: false });
    }, function (err) {
      hint.textContent = fmt(T.locate_failed, { reason: err.message });
    }, { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 });
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

  map.fitBounds(data.bounds, { animate: false });
  drawStations();
  fillDestinations();
  document.body.setAttribute("data-ready", "1");
})();
