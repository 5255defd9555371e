"""The colour-blind-safe palette stays readable for readers with colour blindness; the usual one does not.

Colour blindness is simulated with the matrices of Machado, G. M., Oliveira, M. M. and Fernandes, L. A. F.
(2009), "A Physiologically-based Model for Simulation of Color Vision Deficiency", IEEE Transactions on
Visualization and Computer Graphics 15(6), 1291-1298 (doi:10.1109/TVCG.2009.113), at severity 1.0
(protanopia, deuteranopia, tritanopia), applied to linear RGB as the paper's model requires. Colours are
then compared in CIELAB (D65) by CIEDE2000 (CIE 142-2001), implemented after Sharma, G., Wu, W. and
Dalal, E. N. (2005), "The CIEDE2000 color-difference formula: implementation notes, supplementary test
data, and mathematical observations", Color Research and Application 30(1), 21-30, and checked here
against their published test pairs.

Every two classes of a map layer must be told apart (hot from cold, each from "not significant", and
the confidence levels from each other), so every pair must stay at least ``APART`` apart for normal
vision and each simulated deficiency. The usual colours (Esri's Gi_Bin, GeoDa's LISA) fall short (Esri's
pale orange comes close to its pale yellow for deuteranopes, and to its pale grey-green, a cold class,
for protanopes), which shows the check can fail.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from spatial.kinds import KINDS
from spatial.kinds.base import ClassScheme
from spatial.kinds.hotspot import GI_CLASSES, HOTSPOT

GI_SAFE = [c.safe_colour for c in GI_CLASSES]

# Machado, Oliveira and Fernandes (2009), Table 1 (supplementary), severity 1.0; rows give the simulated
# linear R, G, B from the original linear R, G, B.
MACHADO_2009 = {
    "protanopia": np.array([[0.152286, 1.052583, -0.204868],
                            [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968],
                              [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779],
                            [-0.078411, 0.930809, 0.147602],
                            [0.004733, 0.691367, 0.303900]]),
}
VISION = ("normal", *MACHADO_2009)
# CIEDE2000 units: about 1 is the smallest difference a trained eye sees side by side; map classes are
# seen apart, on a map, in small cells, so they need a difference many times that.
APART = 15.0

# sRGB (IEC 61966-2-1) linear RGB to CIE XYZ, and the D65 white.
SRGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                        [0.2126729, 0.7151522, 0.0721750],
                        [0.0193339, 0.1191920, 0.9503041]])
D65 = np.array([0.95047, 1.0, 1.08883])


def linear_rgb(hex_colour: str) -> np.ndarray:
    """``#rrggbb`` as linear RGB in 0..1 (the sRGB transfer function undone)."""
    encoded = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)]) / 255.0
    return np.where(encoded <= 0.04045, encoded / 12.92, ((encoded + 0.055) / 1.055) ** 2.4)


def seen(hex_colour: str, vision: str) -> np.ndarray:
    """The colour as a reader with ``vision`` sees it, in linear RGB (clipped to the display's range)."""
    linear = linear_rgb(hex_colour)
    return linear if vision == "normal" else np.clip(MACHADO_2009[vision] @ linear, 0.0, 1.0)


def lab(linear: np.ndarray) -> np.ndarray:
    """Linear sRGB to CIELAB (D65)."""
    t = (SRGB_TO_XYZ @ linear) / D65
    f = np.where(t > 216 / 24389, np.cbrt(t), (24389 / 27 * t + 16) / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def ciede2000(first: np.ndarray, second: np.ndarray) -> float:
    """The CIEDE2000 difference of two CIELAB colours (kL = kC = kH = 1), after Sharma et al. (2005)."""
    (l1, a1, b1), (l2, a2, b2) = first, second
    c_mean = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(c_mean ** 7 / (c_mean ** 7 + 25.0 ** 7)))
    a1, a2 = (1 + g) * a1, (1 + g) * a2
    c1, c2 = np.hypot(a1, b1), np.hypot(a2, b2)
    h1, h2 = np.degrees(np.arctan2(b1, a1)) % 360, np.degrees(np.arctan2(b2, a2)) % 360
    if c1 * c2 == 0:
        dh, h_mean = 0.0, h1 + h2
    else:
        dh = h2 - h1 - 360 if h2 - h1 > 180 else h2 - h1 + 360 if h2 - h1 < -180 else h2 - h1
        h_mean = ((h1 + h2) / 2 if abs(h1 - h2) <= 180 else
                  (h1 + h2 + 360) / 2 if h1 + h2 < 360 else (h1 + h2 - 360) / 2)
    d_l, d_c = l2 - l1, c2 - c1
    d_h = 2 * np.sqrt(c1 * c2) * np.sin(np.radians(dh / 2))
    l_mean, c_mean = (l1 + l2) / 2, (c1 + c2) / 2
    t = (1 - 0.17 * np.cos(np.radians(h_mean - 30)) + 0.24 * np.cos(np.radians(2 * h_mean))
         + 0.32 * np.cos(np.radians(3 * h_mean + 6)) - 0.20 * np.cos(np.radians(4 * h_mean - 63)))
    s_l = 1 + 0.015 * (l_mean - 50) ** 2 / np.sqrt(20 + (l_mean - 50) ** 2)
    s_c, s_h = 1 + 0.045 * c_mean, 1 + 0.015 * c_mean * t
    r_t = (-2 * np.sqrt(c_mean ** 7 / (c_mean ** 7 + 25.0 ** 7))
           * np.sin(np.radians(60 * np.exp(-(((h_mean - 275) / 25) ** 2)))))
    return float(np.sqrt((d_l / s_l) ** 2 + (d_c / s_c) ** 2 + (d_h / s_h) ** 2 + r_t * (d_c / s_c) * (d_h / s_h)))


def too_close(scheme: ClassScheme, palette: str) -> list[tuple[str, str, str, float]]:
    """Every (vision, class, class, difference) of the scheme's classes in ``palette`` closer than APART."""
    colours = scheme.colours(palette)  # type: ignore[arg-type]
    labels = scheme.labels()
    found = []
    for vision in VISION:
        for first, second in itertools.combinations(colours, 2):
            difference = ciede2000(lab(seen(colours[first], vision)), lab(seen(colours[second], vision)))
            if difference < APART:
                found.append((vision, labels[first], labels[second], round(difference, 1)))
    return found


# Sharma, Wu and Dalal (2005), Table 1: pairs 1, 2, 7, 17, 25 (L*a*b*, L*a*b*, ΔE00).
SHARMA_2005 = [
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, 3.1571, -77.2803), (50.0, 0.0, -82.7485), 2.8615),
    ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
]


@pytest.mark.parametrize(("first", "second", "published"), SHARMA_2005)
def test_ciede2000_matches_the_published_test_data(first, second, published):
    assert ciede2000(np.array(first), np.array(second)) == pytest.approx(published, abs=1e-4)
    assert ciede2000(np.array(second), np.array(first)) == pytest.approx(published, abs=1e-4)


def test_srgb_to_cielab_and_the_simulation_keep_known_points():
    assert lab(linear_rgb("#ffffff")) == pytest.approx([100.0, 0.0, 0.0], abs=0.01)
    assert lab(linear_rgb("#ff0000")) == pytest.approx([53.24, 80.09, 67.20], abs=0.02)  # sRGB red, D65
    for vision in MACHADO_2009:  # each matrix's rows sum to 1: greys (and white) are seen unchanged
        assert seen("#808080", vision) == pytest.approx(linear_rgb("#808080"), abs=1e-5)
    # red and green, far apart for normal vision, nearly merge for a deuteranope
    red, green = lab(seen("#cc3311", "deuteranopia")), lab(seen("#669900", "deuteranopia"))
    assert ciede2000(lab(linear_rgb("#cc3311")), lab(linear_rgb("#669900"))) > 40 > 3 * ciede2000(red, green)


@pytest.mark.parametrize("scheme", HOTSPOT.schemes, ids=lambda s: s.field)
def test_safe_colours_keep_every_class_apart_for_colour_blind_readers(scheme):
    assert too_close(scheme, "safe") == []


@pytest.mark.parametrize("scheme", HOTSPOT.schemes, ids=lambda s: s.field)
def test_the_usual_colours_merge_some_classes_for_colour_blind_readers(scheme):
    """The reason for the option: with the usual colours at least one pair falls under the threshold for a
    reader with a colour-vision deficiency."""
    close = too_close(scheme, "default")
    assert any(vision != "normal" for vision, *_ in close), close


def test_safe_colours_keep_the_order_of_confidence_in_lightness():
    """Hot and cold steps darken with confidence and "not significant" is the lightest, so the order reads
    in lightness alone (what a reader with no colour vision, or a grey photocopy, keeps)."""
    gi = next(s for s in HOTSPOT.schemes if s.field == HOTSPOT.class_field)
    lightness = {int(v): lab(linear_rgb(c))[0] for v, c in gi.colours("safe").items()}
    assert lightness[3] < lightness[2] < lightness[1] < lightness[0]
    assert lightness[-3] < lightness[-2] < lightness[-1] < lightness[0]


def test_every_kind_has_safe_colours_for_its_gi_classes():
    """The Gi* classes have colours in both palettes wherever a kind draws them (emerging hot spots' step
    layer reuses them)."""
    drawn = [s for kind in KINDS.values() for s in kind.schemes if "Hot spot 99 % confidence" in s.labels().values()]
    assert len(drawn) >= 2  # the one-period map and the emerging map's step layer
    for scheme in drawn:
        assert scheme.colours("safe") == dict(zip(scheme.colours(), GI_SAFE, strict=True))
