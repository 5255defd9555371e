"""The community chart: gridlines at whole counts where the bars reach them, and "1 incident"."""

from __future__ import annotations

import re

from app.services.pages import axis_ticks, incidents_words, trend_svg


def _ticks(svg: str) -> dict[int, float]:
    return {int(label.replace(",", "")): float(y) - 4 for y, label in
            re.findall(r'<text class="tick" x="[\d.]+" y="([\d.]+)" text-anchor="end">([\d,]+)</text>', svg)}


def test_gridlines_are_whole_counts_level_with_bars_of_that_count():
    months = [{"month": "2025-01", "incidents": 1}, {"month": "2025-02", "incidents": 3},
              {"month": "2025-03", "incidents": 2}]
    svg = trend_svg(months)
    ticks = _ticks(svg)
    assert sorted(ticks) == [0, 1, 2, 3]  # not 0, "2" (at 1.5) and 3
    bar_tops = {int(n): float(y) for y, n in re.findall(r'<rect x="[\d.]+" y="([\d.]+)"[^>]*><title>[^:]+: (\d+) incident', svg)}
    for count, top in bar_tops.items():
        assert abs(top - ticks[count]) < 0.11, (count, top, ticks[count])


def test_tooltips_say_one_incident_and_many_incidents():
    svg = trend_svg([{"month": "2025-01", "incidents": 1}, {"month": "2025-02", "incidents": 1204}])
    assert "2025-01: 1 incident</title>" in svg and "2025-02: 1,204 incidents</title>" in svg
    assert "1 incidents" not in svg
    assert incidents_words(0) == "0 incidents"


def test_ticks_are_round_steps_covering_the_peak():
    for peak in range(0, 2000, 7):
        ticks = axis_ticks(peak)
        step = ticks[1] - ticks[0]
        assert ticks[0] == 0 and ticks[-1] >= peak and len(ticks) <= 6
        assert all(b - a == step for a, b in zip(ticks, ticks[1:]))
        assert str(step).rstrip("0") in ("1", "2", "5")
