/* Yizhan planners' map: draws a map spec (webmap/maps.py MapSpec) with Leaflet.
 *
 * Used by /planner and, inlined, by the downloaded scenario report. The spec arrives as
 * JSON in <script type="application/json" id="yz-map-data">; the map goes into the
 * element whose id the container's data-map attribute names (default "yz-map").
 * Every piece of data is written with textContent or as a DOM node (never innerHTML,
 * never as JavaScript source), so a station name is always text. When the map is drawn,
 * the container gets data-ready="1" and data-features="<count>"; window.yzMap is the
 * Leaflet map and window.yzLayers its layers by key (counties, grid, corridors, gaps,
 * stations, candidates, sites, … — see MapSpec.add_layer).
 */
(function () {
  "use strict";

  var source = document.getElementById("yz-map-data");
  var box = document.getElementById("yz-map");
  if (!source || !box || !window.L) { return; }
  var spec = JSON.parse(source.textContent);

  function el(tag, className, text) {
    var e = document.createElement(tag);
    if (className) { e.className = className; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }

  // Leaflet's layer control writes names as HTML: give it escaped text.
  function escaped(text) { return el("span", null, text).innerHTML; }

  function assign(target) {
    for (var i = 1; i < arguments.length; i++) {
      var src = arguments[i];
      if (src) { for (var k in src) { if (Object.prototype.hasOwnProperty.call(src, k)) { target[k] = src[k]; } } }
    }
    return target;
  }

  var map = L.map(box, { zoomControl: true, preferCanvas: false, zoomSnap: 0.25 });
  L.control.scale({ imperial: false }).addTo(map);
  if (spec.tiles && spec.tiles.url) {
    L.tileLayer(spec.tiles.url, { attribution: escaped(spec.tiles.attr || ""), maxZoom: 18 }).addTo(map);
  }

  var drawn = 0;
  var overlays = {};
  var groups = {};

  function bind(layer, props, points) {
    if (props.tip !== undefined && props.tip !== null) {
      layer.bindTooltip(el("span", "yz-tip", props.tip), { sticky: !points });
    }
    if (props.popup && props.popup.length) {
      var body = el("div", "yz-popup");
      props.popup.forEach(function (line, i) {
        if (line !== "") { body.appendChild(el(i === 0 ? "strong" : "div", null, line)); }
      });
      layer.bindPopup(body, { maxWidth: 300 });
    }
  }

  function makeLayer(spec) {
    var base = spec.style || {};
    var group = L.geoJSON(null, {
      interactive: spec.interactive !== false,
      style: function (f) { return assign({}, base, (f.properties || {}).style); },
      pointToLayer: function (f, latlng) {
        var o = assign({ interactive: spec.interactive !== false }, base, (f.properties || {}).style);
        return L.circleMarker(latlng, o);
      },
      onEachFeature: function (f, layer) {
        drawn += 1;
        if (spec.interactive !== false) { bind(layer, f.properties || {}, spec.points); }
        if (layer.getElement) {
          layer.on("add", function () {
            var node = layer.getElement();
            if (node) { node.setAttribute("data-layer", spec.key); }
          });
        }
      }
    });
    if (spec.data) {
      group.addData(spec.data);
    } else if (spec.url) {
      var loaded = false;
      group.on("add", function () {
        if (loaded) { return; }
        loaded = true;
        fetch(spec.url, { credentials: "same-origin" })
          .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
          .then(function (fc) { group.addData(fc); box.setAttribute("data-features", String(drawn)); })
          .catch(function () { loaded = false; });
      });
    }
    return group;
  }

  spec.layers.forEach(function (ly) {
    var group = makeLayer(ly);
    groups[ly.key] = group;
    if (ly.show !== false) { group.addTo(map); }
    if (ly.control !== false) { overlays[escaped(ly.name)] = group; }
  });
  if (Object.keys(overlays).length) {
    L.control.layers(null, overlays, { collapsed: box.getAttribute("data-collapsed") === "1" }).addTo(map);
  }

  (spec.legends || []).forEach(function (legend) {
    var control = L.control({ position: "bottomright" });
    control.onAdd = function () {
      var div = el("div", "map-legend");
      div.appendChild(el("strong", null, legend.title));
      legend.entries.forEach(function (entry) {
        var row = el("div");
        var swatch = el("span", "legend-swatch");
        swatch.style.background = /^#[0-9a-fA-F]{3,8}$/.test(entry[0]) ? entry[0] : "transparent";
        row.appendChild(swatch);
        row.appendChild(document.createTextNode(entry[1]));
        div.appendChild(row);
      });
      return div;
    };
    control.addTo(map);
  });

  map.fitBounds(spec.bounds, { animate: false });
  window.yzMap = map;
  window.yzLayers = groups;
  box.setAttribute("data-features", String(drawn));
  box.setAttribute("data-ready", "1");
})();
