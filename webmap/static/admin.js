/* Yizhan staff pages: the location picker next to the lon/lat inputs.
 * Clicking the map or dragging the marker writes WGS-84 coordinates into the inputs and
 * sets the coordinate-system select to WGS-84. Typed WGS-84 values move the marker.
 */
(function () {
  "use strict";
  var node = document.getElementById("picker-data");
  if (!node) { return; }
  var data = JSON.parse(node.textContent);
  var map = window[data.map];
  if (!map) { return; }
  var lon = document.getElementById("f-lon");
  var lat = document.getElementById("f-lat");
  var sys = document.getElementById("f-coord_sys");
  var marker = null;

  function place(latlng, pan) {
    if (!marker) {
      marker = L.marker(latlng, { draggable: true, autoPan: true }).addTo(map);
      marker.on("dragend", function () { write(marker.getLatLng()); });
    } else {
      marker.setLatLng(latlng);
    }
    if (pan) { map.setView(latlng, Math.max(map.getZoom(), 11), { animate: false }); }
  }

  function write(latlng) {
    lon.value = latlng.lng.toFixed(6);
    lat.value = latlng.lat.toFixed(6);
    sys.value = "wgs84";
  }

  function typed() {
    if (sys.value !== "wgs84") { return; }  // GCJ-02/BD-09 are converted by the server on save
    var x = parseFloat(lon.value), y = parseFloat(lat.value);
    if (isFinite(x) && isFinite(y)) { place([y, x], true); }
  }

  if (typeof data.lon === "number" && typeof data.lat === "number") {
    place([data.lat, data.lon], true);
  } else {
    map.fitBounds(data.bounds, { animate: false });
  }
  map.on("click", function (ev) { place(ev.latlng, false); write(ev.latlng); });
  lon.addEventListener("change", typed);
  lat.addEventListener("change", typed);
})();
