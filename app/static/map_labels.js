/* Names on the print sheet's and the compare page's maps: community names on their outlines and the
   gazetteer's towns and villages (only those within the map, chosen by the server), with names that
   would overlap one already placed, or be cut by the map's edge, left out (towns first). */
(function () {
  "use strict";

  function outlines(data, style) {
    return L.geoJson(data, {interactive: false, style: function () { return style; },
      onEachFeature: function (f, layer) {
        layer.bindTooltip(String(f.properties.community), {permanent: true, direction: "center", className: "label"});
      }});
  }

  function places(data) {
    return L.geoJson(data, {pointToLayer: function (f, latlng) {
        return L.circleMarker(latlng, {radius: 2.5, color: "#222", weight: 1, fillColor: "#fff", fillOpacity: 1,
                                       interactive: false});
      }, onEachFeature: function (f, layer) {
        layer.bindTooltip(String(f.properties.name), {permanent: true, direction: "right", offset: [4, 0],
                                                       className: "label place"});
      }});
  }

  function declutter(map) {
    var container = map.getContainer(), frame = container.getBoundingClientRect(), kept = [];
    [".label.place", ".label:not(.place)"].forEach(function (selector) {
      container.querySelectorAll(".leaflet-tooltip" + selector).forEach(function (label) {
        label.style.visibility = "";
        var box = label.getBoundingClientRect();
        var cut = box.left < frame.left || box.right > frame.right || box.top < frame.top || box.bottom > frame.bottom;
        if (cut || kept.some(function (o) { return box.left < o.right && o.left < box.right && box.top < o.bottom && o.top < box.bottom; })) {
          label.style.visibility = "hidden";
        } else { kept.push(box); }
      });
    });
  }

  window.MapLabels = {outlines: outlines, places: places, declutter: declutter};
})();
