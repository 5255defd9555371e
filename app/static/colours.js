/* "Colour-blind-safe colours": one choice for every map page (the run's map, its print sheet, compare),
   remembered in this browser (localStorage). A page's ?colours=safe (or =default) wins over the stored
   choice, so a printed sheet can be asked for in either set of colours.

   A page marks what follows the choice:
   - <input type="checkbox" class="colour-choice">: the switch (a real, labelled checkbox);
   - any element with data-colour-default and data-colour-safe: a swatch, its background set;
   - <a data-follows-colours>: a link to another map page, given ?colours=safe when it is on;
   and a page's map script redraws its cells with HotspotColours.onChange(function (palette) { ... }). */
(function () {
    "use strict";
    var KEY = "hotspots-colours", PALETTES = ["default", "safe"], listeners = [];

    function fromAddress() {
        var asked = new URLSearchParams(window.location.search).get("colours");
        return PALETTES.indexOf(asked) >= 0 ? asked : null;
    }
    function stored() {
        try { return window.localStorage.getItem(KEY); } catch (e) { return null; }  // storage turned off
    }
    var current = fromAddress() || (stored() === "safe" ? "safe" : "default");

    function follow(link) {
        var address = new URL(link.getAttribute("href"), window.location.href);
        if (current === "safe") { address.searchParams.set("colours", "safe"); } else { address.searchParams.delete("colours"); }
        link.setAttribute("href", address.pathname + address.search + address.hash);
    }
    function apply() {
        document.documentElement.setAttribute("data-colours", current);
        document.querySelectorAll("input.colour-choice").forEach(function (box) { box.checked = current === "safe"; });
        document.querySelectorAll("[data-colour-safe]").forEach(function (swatch) {
            swatch.style.backgroundColor = swatch.getAttribute("data-colour-" + current);
        });
        document.querySelectorAll("a[data-follows-colours]").forEach(follow);
        listeners.forEach(function (listener) { listener(current); });
    }
    function choose(palette) {
        current = palette === "safe" ? "safe" : "default";
        try { window.localStorage.setItem(KEY, current); } catch (e) { /* not remembered, still shown */ }
        apply();
    }
    function start() {
        document.querySelectorAll("input.colour-choice").forEach(function (box) {
            box.addEventListener("change", function () { choose(box.checked ? "safe" : "default"); });
        });
        apply();
    }

    window.HotspotColours = {
        palette: function () { return current; },
        choose: choose,
        // called whenever the choice changes (a page draws with palette() at first)
        onChange: function (listener) { listeners.push(listener); }
    };
    if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
