/* Drivers' map, grid service desk part: notices in force at the driver's position, and a
 * "report a problem" form (also "this station's information is wrong").
 *
 * Kept apart from driver.js: it only needs the Leaflet map (named in #yz-data) and the
 * stations listed there. The position is the last point tapped on the map (or found by the
 * browser's location). A random device id lives in localStorage so the desk can count how
 * many devices a notice reached; the server stores only a salted hash of it.
 * Every text from the server is written with textContent.
 */
(function () {
  "use strict";
  var page = JSON.parse(document.getElementById("yz-data").textContent);
  var cfg = JSON.parse(document.getElementById("yz-desk-data").textContent);
  var map = window[page.map];
  var T = cfg.t;
  var position = null;  // [lon, lat]
  var seq = 0;

  function $(id) { return document.getElementById(id); }
  function fmt(s, vars) { return String(s).replace(/\{(\w+)\}/g, function (_, k) { return vars[k] === undefined ? "" : String(vars[k]); }); }
  function el(tag, cls, text) { var e = document.createElement(tag); if (cls) { e.className = cls; } if (text !== undefined) { e.textContent = String(text); } return e; }

  function deviceId() {
    var key = "yizhan.device";
    try {
      var v = window.localStorage.getItem(key);
      if (!v || !/^[A-Za-z0-9_-]{16,64}$/.test(v)) {
        var bytes = new Uint8Array(16);
        window.crypto.getRandomValues(bytes);
        v = Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
        window.localStorage.setItem(key, v);
      }
      return v;
    } catch (e) { return null; }  // storage blocked: notices still show, reach is not counted
  }

  // ------------------------------------------------------------------ notices
  function showNotices(list) {
    var box = $("desk-notices");
    while (box.firstChild) { box.removeChild(box.firstChild); }
    if (!list.length) { box.hidden = true; return; }
    var title = el("h2", "desk-notices-title", T.notices);
    var close = el("button", "desk-notices-close", "×");
    close.type = "button";
    close.setAttribute("aria-label", T.close);
    close.addEventListener("click", function () { box.hidden = true; });
    title.appendChild(close);
    box.appendChild(title);
    list.forEach(function (n) {
      var item = el("article", "desk-notice desk-notice-" + n.kind);
      item.setAttribute("data-id", n.id);
      var head = el("p", "desk-notice-head");
      head.appendChild(el("span", "desk-notice-kind", n.kind_label));
      head.appendChild(el("strong", "desk-notice-title", n.title));
      if (n.data_status !== "verified") { head.appendChild(el("span", "desk-badge", T.illustrative)); }
      item.appendChild(head);
      item.appendChild(el("p", "desk-notice-body", n.body));
      item.appendChild(el("p", "desk-notice-valid", T.valid_to + " " + String(n.valid_to).slice(0, 16).replace("T", " ")));
      box.appendChild(item);
    });
    box.hidden = false;
  }

  function fetchNotices() {
    if (!position) { return; }
    var mine = ++seq;
    var q = "?lon=" + encodeURIComponent(position[0].toFixed(6)) + "&lat=" + encodeURIComponent(position[1].toFixed(6)) +
            "&lang=" + encodeURIComponent(cfg.lang);
    var dev = deviceId();
    if (dev) { q += "&device=" + dev; }
    fetch(cfg.api.notices + q, {headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : {notices: []}; })
      .then(function (j) { if (mine === seq) { showNotices(j.notices || []); } })
      .catch(function () { /* offline: keep what is shown */ });
  }

  function setPosition(lon, lat) {
    position = [lon, lat];
    $("desk-position").textContent = T.position + ": " + lon.toFixed(5) + ", " + lat.toFixed(5);
    fetchNotices();
  }

  if (map) {
    map.on("click", function (e) { setPosition(e.latlng.lng, e.latlng.lat); });
    map.on("locationfound", function (e) { setPosition(e.latlng.lng, e.latlng.lat); });
  }
  document.addEventListener("yz:position", function (e) {
    if (e.detail && isFinite(e.detail.lon) && isFinite(e.detail.lat)) { setPosition(Number(e.detail.lon), Number(e.detail.lat)); }
  });

  // ------------------------------------------------------------------ report form
  var dialog = $("desk-report");
  var form = $("desk-report-form");
  var catSel = $("desk-category");
  Object.keys(cfg.categories).forEach(function (k) {
    var o = el("option", null, cfg.categories[k]); o.value = k; catSel.appendChild(o);
  });
  var stSel = $("desk-station");
  (page.stations || []).forEach(function (s) {
    var o = el("option", null, (cfg.lang === "en" && s.ne ? s.ne : s.n)); o.value = s.i; stSel.appendChild(o);
  });

  function kind() { var c = form.querySelector('input[name="kind"]:checked'); return c ? c.value : "request"; }
  function syncKind() {
    var station = kind() === "station_report";
    form.querySelector(".desk-station").hidden = !station;
    form.querySelector(".desk-category").hidden = station;
  }
  Array.prototype.forEach.call(form.querySelectorAll('input[name="kind"]'), function (r) { r.addEventListener("change", syncKind); });

  $("desk-report-open").addEventListener("click", function () {
    $("desk-status").textContent = "";
    dialog.hidden = false;
    $("desk-description").focus();
  });
  $("desk-cancel").addEventListener("click", function () { dialog.hidden = true; });

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var status = $("desk-status");
    var body = {kind: kind(), description: $("desk-description").value};
    if (body.kind === "station_report") {
      body.station_id = stSel.value;
    } else {
      body.category = catSel.value;
      if (!position) { status.textContent = T.position_hint; return; }
      body.lon = position[0]; body.lat = position[1];
    }
    var phone = $("desk-phone").value.trim();
    if (phone) { body.contact_phone = phone; }
    $("desk-send").disabled = true;
    fetch(cfg.api.requests + "?lang=" + encodeURIComponent(cfg.lang), {
      method: "POST", headers: {"Content-Type": "application/json", "Accept": "application/json"},
      body: JSON.stringify(body), credentials: "omit"
    }).then(function (r) { return r.json().then(function (j) { return {ok: r.ok, body: j}; }); })
      .then(function (res) {
        $("desk-send").disabled = false;
        if (res.ok) {
          status.textContent = fmt(T.sent, {receipt: res.body.receipt});
          status.setAttribute("data-receipt", res.body.receipt);
          form.reset(); syncKind();
        } else {
          var e = (res.body && res.body.error) || {};
          var msg = e.message || "";
          Object.keys(e.fields || {}).forEach(function (k) { msg += " · " + e.fields[k]; });
          status.textContent = fmt(T.failed, {message: msg});
        }
      })
      .catch(function () { $("desk-send").disabled = false; status.textContent = fmt(T.failed, {message: "offline"}); });
  });
})();
