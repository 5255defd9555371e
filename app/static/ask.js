/* The "New analysis" form: period presets, the community map, sending the run to the analyses API
   (POST /api/v1/analyses with the session cookie; the service checks it comes from this site),
   refusals shown beside the field they concern, and the run's progress until its map can be opened. */
(function () {
  "use strict";
  var form = document.getElementById("new-analysis");
  if (!form) { return; }
  var first = document.getElementById("first-day");
  var last = document.getElementById("last-day");
  var note = document.getElementById("period-note");
  // Which field a refusal concerns: the API's "where" (body.end) or details.field, to the form's field.
  var FIELD_OF = { communities: "communities", start: "period", end: "period", period: "period",
                   categories: "categories", resolution: "resolution", kind: "kind", step: "kind",
                   time_lag: "kind", audience: "audience" };

  function ticked(name) {
    return Array.prototype.map.call(form.querySelectorAll("input[name=" + name + "]:checked"),
                                    function (box) { return box.value; });
  }
  function chosen(name) {
    var input = form.querySelector("input[name=" + name + "]:checked");
    return input ? input.value : null;
  }
  function nextDay(day) {  // "2025-06-30" -> "2025-07-01", in calendar days (no clock, no time zone)
    var parts = day.split("-").map(Number);
    var moment = new Date(Date.UTC(parts[0], parts[1] - 1, parts[2] + 1));
    return moment.toISOString().slice(0, 10);
  }

  // --- period ---------------------------------------------------------------------------------
  function describePeriod() {
    var from = first.value, to = last.value;
    if (!from && !to) { note.textContent = "Every incident, whatever its date."; return; }
    var words = from ? "From " + from + " 00:00" : "From the first incident";
    words += to ? (" to the end of " + to + " (the last day is included: the run counts up to, not including, "
                   + nextDay(to) + " 00:00).") : " to the latest incident.";
    note.textContent = words;
  }
  form.querySelectorAll("input[name=period]").forEach(function (radio) {
    radio.addEventListener("change", function () {
      if (radio.value !== "custom") { first.value = radio.dataset.first; last.value = radio.dataset.last; }
      describePeriod();
    });
  });
  [first, last].forEach(function (input) {
    input.addEventListener("input", function () {
      var custom = form.querySelector("input[name=period][value=custom]");
      if (custom) { custom.checked = true; }
      describePeriod();
    });
  });
  describePeriod();

  // --- kind: the time step only matters for emerging hot spots ---------------------------------
  var stepChoice = document.getElementById("step-choice");
  function showStep() { stepChoice.hidden = chosen("kind") !== "emerging"; }
  form.querySelectorAll("input[name=kind]").forEach(function (r) { r.addEventListener("change", showStep); });
  showStep();

  // --- communities: tick boxes and the map --------------------------------------------------------
  function boxFor(name) {
    return Array.prototype.find.call(form.querySelectorAll("input[name=communities]"),
                                     function (box) { return box.value === name; });
  }
  form.querySelectorAll("[data-tick-island], [data-untick-island]").forEach(function (button) {
    button.addEventListener("click", function () {
      var tick = button.hasAttribute("data-tick-island");
      var island = button.getAttribute(tick ? "data-tick-island" : "data-untick-island");
      form.querySelectorAll("ul[data-island='" + island + "'] input").forEach(function (box) {
        box.checked = tick;
        box.dispatchEvent(new Event("change"));
      });
    });
  });
  var outlines = JSON.parse(document.getElementById("community-outlines").textContent);
  if (window.L && outlines.features.length) {
    var map = L.map("pick-map", { scrollWheelZoom: false, attributionControl: false });
    var styleOf = function (feature) {
      var box = boxFor(feature.properties.community);
      var on = box && box.checked;
      return { color: "#24323f", weight: 1, fillColor: on ? "#0b57d0" : "#c9d3dc", fillOpacity: on ? 0.6 : 0.35 };
    };
    var layer = L.geoJSON(outlines, {
      style: styleOf,
      onEachFeature: function (feature, shape) {
        shape.bindTooltip(feature.properties.community, { sticky: true });
        shape.on("click", function () {
          var box = boxFor(feature.properties.community);
          if (box) { box.checked = !box.checked; box.dispatchEvent(new Event("change")); }
        });
      }
    }).addTo(map);
    map.fitBounds(layer.getBounds());
    form.querySelectorAll("input[name=communities]").forEach(function (box) {
      box.addEventListener("change", function () { layer.setStyle(styleOf); });
    });
  }

  // --- refusals beside their field ----------------------------------------------------------------
  function clearErrors() {
    form.querySelectorAll(".field-error, #form-error").forEach(function (p) { p.hidden = true; p.textContent = ""; });
    form.querySelectorAll(".has-error").forEach(function (f) { f.classList.remove("has-error"); });
    form.querySelectorAll("[aria-invalid]").forEach(function (f) { f.removeAttribute("aria-invalid"); });
  }
  function showError(field, message) {
    var place = field && document.getElementById(field + "-error");
    if (!place) { place = document.getElementById("form-error"); field = null; }
    place.textContent = place.textContent ? place.textContent + " " + message : message;
    place.hidden = false;
    if (field) {
      var box = document.getElementById("field-" + field);
      box.classList.add("has-error");
      box.querySelectorAll("input, select").forEach(function (input) {
        if (input.type !== "checkbox" && input.type !== "radio") { input.setAttribute("aria-invalid", "true"); }
      });
    }
    return place;
  }
  function showRefusal(status, body) {
    var error = (body && body.error) || {};
    var details = error.details;
    var shown = [];
    if (Array.isArray(details)) {  // the request's own checks: [{where: "body.end", problem: "..."}]
      details.forEach(function (d) {
        var key = String(d.where || "").split(".").slice(-1)[0];
        shown.push(showError(FIELD_OF[key], d.problem.replace(/^Value error, /, "")));
      });
    } else {
      var field = details && details.field ? FIELD_OF[details.field] : null;
      shown.push(showError(field, error.message || ("The service refused the analysis (HTTP " + status + ").")));
    }
    var where = shown[0] && shown[0].closest("fieldset, .field");
    var focusable = where && where.querySelector("input, select");
    (focusable || document.getElementById("form-error")).focus();
  }

  // --- sending and following the run ---------------------------------------------------------------
  var progress = document.getElementById("progress");
  var bar = document.getElementById("progress-bar");
  var words = document.getElementById("progress-words");
  var links = document.getElementById("progress-links");
  var button = document.getElementById("start");

  function request() {
    var body = { communities: ticked("communities"), categories: ticked("categories"),
                 resolution: Number(document.getElementById("resolution").value),
                 kind: chosen("kind") || "hotspot", audience: chosen("audience") || "police" };
    if (first.value) { body.start = first.value + "T00:00:00"; }  // local time of the service
    if (last.value) { body.end = nextDay(last.value) + "T00:00:00"; }  // the API's end is exclusive
    if (body.kind === "emerging") { body.step = document.getElementById("step").value; }
    return body;
  }
  function link(href, text) {
    var a = document.createElement("a");
    a.href = href; a.textContent = text;
    return a;
  }
  function follow(runId) {
    fetch("/api/v1/analyses/" + runId, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json().then(function (b) { return { ok: r.ok, body: b }; }); })
      .then(function (answer) {
        if (!answer.ok) { words.textContent = (answer.body.error || {}).message || "The run cannot be read."; return; }
        var run = answer.body;
        if (run.status === "completed") {
          bar.value = 100;
          document.getElementById("progress-title").textContent = "Run #" + runId + " is ready";
          words.textContent = "The analysis has finished.";
          links.replaceChildren(link("/maps/analyses/" + runId, "Open the map of run #" + runId), " · ",
                                link("/analyses/" + runId, "the run's page"));
          links.querySelector("a").focus();
          button.disabled = false;
        } else if (run.status === "failed") {
          document.getElementById("progress-title").textContent = "Run #" + runId + " failed";
          words.textContent = run.error || "The run failed.";
          links.replaceChildren(link("/analyses/" + runId, "What went wrong and how to run it again"));
          links.querySelector("a").focus();
          button.disabled = false;
        } else {
          bar.value = Math.round(100 * (run.progress || 0));
          words.textContent = "Run #" + runId + " is " + run.status + (run.stage ? ": " + run.stage : "") + " ("
            + bar.value + " %).";
          window.setTimeout(function () { follow(runId); }, 1000);
        }
      })
      .catch(function () { window.setTimeout(function () { follow(runId); }, 3000); });
  }
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    clearErrors();
    button.disabled = true;
    fetch("/api/v1/analyses", { method: "POST", credentials: "same-origin",
                                headers: { "Content-Type": "application/json", Accept: "application/json" },
                                body: JSON.stringify(request()) })
      .then(function (r) { return r.json().then(function (b) { return { status: r.status, body: b }; }); })
      .then(function (answer) {
        if (answer.status !== 202) { button.disabled = false; showRefusal(answer.status, answer.body); return; }
        progress.hidden = false;
        bar.value = 0;
        document.getElementById("progress-title").textContent = "Run #" + answer.body.id + " is queued";
        links.replaceChildren();
        words.textContent = "Run #" + answer.body.id + " is queued.";
        follow(answer.body.id);
      })
      .catch(function () {
        button.disabled = false;
        showError(null, "The service could not be reached. Check the connection and try again.");
      });
  });
}());
