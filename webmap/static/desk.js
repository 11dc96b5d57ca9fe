/* Grid service desk (staff pages): register a request, advance one, publish a notice.
 * Writes go to the JSON API with the session's CSRF token (X-CSRFToken) and, for PATCH,
 * If-Match with the version shown. Every text from the server is written with textContent.
 */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("desk-data").textContent);
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");

  function send(method, url, body, extra) {
    var headers = {"Content-Type": "application/json", "X-CSRFToken": csrf, "Accept": "application/json"};
    Object.keys(extra || {}).forEach(function (k) { headers[k] = extra[k]; });
    return fetch(url, {method: method, headers: headers, body: JSON.stringify(body), credentials: "same-origin"})
      .then(function (r) { return r.json().then(function (j) { return {ok: r.ok, status: r.status, body: j}; }); });
  }

  function errorText(res) {
    var e = (res.body && res.body.error) || {};
    var parts = [e.message || ("HTTP " + res.status)];
    Object.keys(e.fields || {}).forEach(function (k) { parts.push(k + ": " + e.fields[k]); });
    return parts.join(" · ");
  }

  function formObject(form) {
    var out = {};
    new FormData(form).forEach(function (v, k) {
      if (typeof v === "string" && v.trim() !== "") {
        if (out[k] === undefined) { out[k] = v.trim(); } else { out[k] = [].concat(out[k], v.trim()); }
      }
    });
    return out;
  }

  function localIso(v) { return v ? v : undefined; }  // datetime-local → naive ISO = region time

  if (data.page === "queue") {
    var form = document.getElementById("new-request");
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var body = formObject(form);
      var status = document.getElementById("new-status");
      send("POST", data.api.requests, body).then(function (res) {
        if (res.ok) { window.location.reload(); } else { status.textContent = errorText(res); }
      });
    });
  }

  if (data.page === "request") {
    var adv = document.getElementById("advance");
    if (adv) {
      adv.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var body = formObject(adv);
        body.state = data.request.next;
        if (body.money_recovered_cny !== undefined) { body.money_recovered_cny = Number(body.money_recovered_cny); }
        var status = document.getElementById("advance-status");
        document.getElementById("advance-btn").disabled = true;
        send("PATCH", data.request.api, body, {"If-Match": '"' + data.request.version + '"'}).then(function (res) {
          if (res.ok) { window.location.reload(); return; }
          document.getElementById("advance-btn").disabled = false;
          status.textContent = errorText(res);
        });
      });
    }
  }

  if (data.page === "notices") {
    var nf = document.getElementById("new-notice");
    nf.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var f = formObject(nf);
      var target;
      if (f.target_type === "corridor") {
        target = {corridor: f.corridor, from_km: Number(f.from_km), to_km: Number(f.to_km)};
      } else if (f.target_type === "radius") {
        target = {lon: Number(f.lon), lat: Number(f.lat), radius_km: Number(f.radius_km)};
      } else {
        target = {grids: [].concat(f.grids || [])};
      }
      var body = {kind: f.kind, title: f.title, body: f.body, target: target,
                  valid_from: localIso(f.valid_from), valid_to: localIso(f.valid_to)};
      var status = document.getElementById("notice-status");
      send("POST", data.api.notices, body).then(function (res) {
        if (res.ok) { window.location.reload(); } else { status.textContent = errorText(res); }
      });
    });
  }
})();
