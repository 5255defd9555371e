"""Emerging hot spot categories, table-driven, from sfdep's rules and ArcGIS Pro's definitions.

Each case is a cell's series of bins, oldest first ("H" a significant hot
spot bin, "C" a significant cold spot bin, "." neither) and its Mann-Kendall
trend ("+" significantly rising, "-" significantly falling, "0" none). The
cases are sfdep's rules (``R/emerging-hostpot-classifications.R`` in
JosiahParry/sfdep) case by case, hot and cold, with the 90 % thresholds at 10,
20 and 24 steps. Where sfdep reads ArcGIS's definitions differently the case
is in ``DEPARTURES`` with both answers and the reason.
"""

import numpy as np
import pytest

from spatial.emerging.categories import category_label, classify

TREND = {"+": (1, 0.001), "-": (-1, 0.001), "0": (1, 0.5)}


def classify_one(series: str, trend: str) -> str:
    hot = np.array([[c == "H" for c in series]])
    cold = np.array([[c == "C" for c in series]])
    s, p = TREND[trend]
    return category_label(int(classify(hot, cold, np.array([s]), np.array([p]))[0]))


CASES = [
    # new: significant in the final step only
    (".........H", "0", "New hot spot"),
    (".........C", "0", "New cold spot"),
    (".........H", "+", "New hot spot"),
    # consecutive: an uninterrupted final run of at least two, nothing significant before, under 90 %
    ("........HH", "0", "Consecutive hot spot"),
    ("........CC", "0", "Consecutive cold spot"),
    ("..HHHHHHHH", "+", "Consecutive hot spot"),           # 80 %: below the threshold
    ("..CCCCCCCC", "-", "Consecutive cold spot"),
    (".HHHHHHHHH", "0", "Persistent hot spot"),            # 90 %: no longer consecutive
    (".CCCCCCCCC", "0", "Persistent cold spot"),
    ("H.......HH", "0", "Sporadic hot spot"),              # hot before the final run
    # intensifying: >= 90 % including the final step, rising
    ("HHHHHHHHHH", "+", "Intensifying hot spot"),
    (".HHHHHHHHH", "+", "Intensifying hot spot"),          # exactly 90 %
    ("CCCCCCCCCC", "-", "Intensifying cold spot"),
    (".CCCCCCCCC", "-", "Intensifying cold spot"),
    # persistent: >= 90 %, no trend (the final step need not be significant)
    ("HHHHHHHHHH", "0", "Persistent hot spot"),
    ("HHHHHHHHH.", "0", "Persistent hot spot"),
    ("CCCCCCCCCC", "0", "Persistent cold spot"),
    # diminishing: >= 90 % including the final step, falling
    ("HHHHHHHHHH", "-", "Diminishing hot spot"),
    (".HHHHHHHHH", "-", "Diminishing hot spot"),
    ("CCCCCCCCCC", "+", "Diminishing cold spot"),
    # oscillating: final step one way, some earlier step the other, under 90 %
    ("C........H", "0", "Oscillating hot spot"),
    ("C.H.H.H.HH", "+", "Oscillating hot spot"),
    ("H........C", "0", "Oscillating cold spot"),
    ("HHHHHHHHHC", "-", "Oscillating cold spot"),          # precedence: oscillating cold before historical hot
    # historical: >= 90 % but not in the final step (with a trend; without one it is persistent)
    ("HHHHHHHHH.", "-", "Historical hot spot"),
    ("HHHHHHHHH.", "+", "Historical hot spot"),
    ("CCCCCCCCC.", "+", "Historical cold spot"),
    # sporadic: final step significant, on and off before, never the other way, under 90 %
    ("..H..H...H", "0", "Sporadic hot spot"),
    ("..C..C...C", "0", "Sporadic cold spot"),
    ("HHHHHHH..H", "+", "Sporadic hot spot"),              # 8 of 10: under 90 %
    ("HHHHHHHH.H", "+", "Intensifying hot spot"),          # 9 of 10, not in one run: 90 % all the same
    # no pattern
    ("..........", "0", "No pattern detected"),
    ("..........", "+", "No pattern detected"),
    ("..H..C....", "0", "No pattern detected"),
    # the 90 % line at 20 steps (18) and 24 steps (22 of 24; 21 is 87.5 %)
    ("." * 2 + "H" * 18, "0", "Persistent hot spot"),
    ("." * 3 + "H" * 17, "0", "Consecutive hot spot"),
    ("." * 2 + "C" * 22, "+", "Diminishing cold spot"),
    ("." * 3 + "C" * 21, "+", "Consecutive cold spot"),
    ("H" * 22 + "..", "-", "Historical hot spot"),
    ("H" * 21 + ".." + "H", "-", "Diminishing hot spot"),  # 22 of 24
    ("H" * 20 + "..." + "H", "-", "Sporadic hot spot"),    # 21 of 24
]


@pytest.mark.parametrize("series, trend, expected", CASES)
def test_category(series, trend, expected):
    assert classify_one(series, trend) == expected


# (series, trend, sfdep's answer, ours, why we differ)
DEPARTURES = [
    ("C.HHHHHHHH", "+", "Intensifying hot spot", "Oscillating hot spot",
     "sfdep's intensifying counts every significant bin (90 %); ArcGIS asks for hot bins (80 % here)"),
    ("......CHHH", "0", "Consecutive hot spot", "Oscillating hot spot",
     "sfdep's final run may hold a cold bin; ArcGIS's run is of hot bins, and a cold history is oscillating"),
    ("HHHHHHHHH.", "-", "No pattern detected", "Historical hot spot",
     "sfdep asks for a final Gi* below 0 (z above 0 here); ArcGIS: the final step is not a hot spot"),
    ("..H..H....", "0", "Sporadic hot spot", "No pattern detected",
     "ArcGIS Pro's sporadic hot spot is hot in the final step (ArcMap's older text, which sfdep follows, was not)"),
]


@pytest.mark.parametrize("series, trend, sfdep, ours, why", DEPARTURES)
def test_departures_from_sfdep(series, trend, sfdep, ours, why):
    assert classify_one(series, trend) == ours != sfdep


def test_every_category_is_reached_hot_and_cold():
    reached = {expected for _, _, expected in CASES}
    for pattern in ("New", "Consecutive", "Intensifying", "Persistent", "Diminishing", "Oscillating", "Historical",
                    "Sporadic"):
        assert {f"{pattern} hot spot", f"{pattern} cold spot"} <= reached
    assert "No pattern detected" in reached


def test_many_cells_at_once_match_one_at_a_time():
    rng = np.random.default_rng(7)
    draws = rng.choice(["H", "C", "."], p=[0.5, 0.2, 0.3], size=(500, 12))
    trends = rng.choice(list(TREND), size=500)
    series = ["".join(row) for row in draws]
    hot, cold = draws == "H", draws == "C"
    s = np.array([TREND[t][0] for t in trends])
    p = np.array([TREND[t][1] for t in trends])
    codes = classify(hot, cold, s, p)
    assert [category_label(int(c)) for c in codes] == [classify_one(x, t) for x, t in zip(series, trends)]


def test_a_missing_trend_is_no_trend():
    hot = np.ones((1, 10), dtype=bool)
    code = classify(hot, np.zeros_like(hot), np.array([0]), np.array([np.nan]))
    assert category_label(int(code[0])) == "Persistent hot spot"


def test_a_bin_cannot_be_hot_and_cold():
    both = np.ones((1, 10), dtype=bool)
    with pytest.raises(ValueError):
        classify(both, both, np.array([0]), np.array([0.5]))
