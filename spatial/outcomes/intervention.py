"""Did crime fall where a programme ran more than elsewhere, and did it move next door?

Counts of incidents in equal windows before and after, in three areas: the **target** (where the
programme ran), a **buffer** (the ring around it, where displaced crime would show) and a
**comparison** area (where nothing changed, to take out the city-wide trend).

Relative change against the comparison
--------------------------------------
``ratio = (target_after / target_before) / (comparison_after / comparison_before)``, with
``Var(log ratio) = 1/tb + 1/ta + 1/cb + 1/ca``. This is the odds-ratio method of the hot-spot
policing meta-analyses (Braga, Papachristos and Hureau 2014, *Justice Quarterly* 31(4); Braga,
Turchan, Papachristos and Hureau 2019, *Campbell Systematic Reviews* 15(3)), after Farrington
and Welsh, written the other way up (their OR is ``1 / ratio``, above 1 for a fall), and it is
also the Poisson difference-in-differences: the interaction of a log-linear Poisson model of
the 2×2 table, which is saturated, so its estimate and Wald interval are exactly these.

Over-dispersion
---------------
That variance assumes Poisson counts; recorded crime varies more from window to window, which makes
the interval too narrow (Farrington and Welsh inflate it for that). Given the counts of W earlier
windows of the same length, before the window just before the programme, the dispersion is
estimated the quasi-Poisson way (McCullagh and Nelder 1989, §4.5) from the log-linear Poisson
model of that 2 areas × W windows table with a window effect and an area effect (no programme
ran then): ``n = 2W`` cells, ``p = W + 1`` parameters, ``phi = X² / (n - p) = X² / (W - 1)``
with Pearson's chi-square (a window with no incident in either area carries no information and
is left out of both n and p). The before and after windows are left out of the estimate so that
it is independent of the ratio it scales, as Student's t assumes: with the window before in the
table, a before count that strays inflates both the ratio and ``phi`` and the 95 % interval
covered 97 % of the time on negative binomial histories. The variance of the log ratio is multiplied by ``phi`` (floored at 1) and the
interval uses Student's t on ``W - 1`` degrees of freedom. For negative binomial counts this is
right to first order: ``X² / (W - 1)`` estimates ``1 + 2 / (k (1/t + 1/c))``, so ``phi`` times the
Poisson variance is the negative binomial one, ``Σ 1/count + 4/k``.

An effect is claimed only when the interval excludes no change (two-sided, at ``level``) and the
area had at least ``MIN_BEFORE`` incidents in the window before (a Wald interval on fewer is not to
be trusted). When it is not, the sentence says why from the counts themselves: too few incidents,
or the smallest fall that these counts would detect with the stated power,
``1 - exp(-(z_(1-α/2) + z_power) · se)``.

Weighted displacement quotient
------------------------------
Bowers and Johnson (2003, *Journal of Quantitative Criminology* 19(3)):
``WDQ = (Ba/Ca - Bb/Cb) / (Ra/Ca - Rb/Cb)`` with R the target ("response") area, B the buffer,
C the comparison ("control"), b before and a after. The denominator is the *success measure*
(negative when the target improved against the comparison); the WDQ is read only then. The
numerator is the *displacement measure*: positive when the buffer got worse against the
comparison. WDQ > 0: diffusion of benefits into the buffer; WDQ < 0: displacement; WDQ < -1:
more crime displaced than prevented.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm
from scipy.stats import t as student_t

from spatial.outcomes.accuracy import Interval, NotMeasurable

# Fewer incidents than this in an area before the programme: no effect is claimed there, whatever the
# interval says (a Wald interval on so few is not to be trusted).
MIN_BEFORE = 10


@dataclass(frozen=True)
class AreaCounts:
    """Incidents in one area in the window before and the equal window after."""

    before: int
    after: int

    def __post_init__(self) -> None:
        for value in (self.before, self.after):
            if value < 0 or value != int(value):
                raise NotMeasurable("Incident counts must be whole numbers, 0 or more.")


@dataclass(frozen=True)
class Dispersion:
    """How much more an area varied against the comparison area than Poisson counts would, in the
    windows before the programme: Pearson's chi-square of the independence fit and its degrees of freedom."""

    pearson: float
    degrees_of_freedom: int  # n - p = W - 1 for W windows with incidents
    windows: int  # W: the earlier windows with any incident

    @property
    def phi(self) -> float:
        """The factor on the Poisson variance, ``X² / (n - p)``, floored at 1 (less than Poisson is taken as Poisson)."""
        return max(1.0, self.pearson / self.degrees_of_freedom)

    def as_dict(self) -> dict[str, object]:
        return {"phi": self.phi, "pearson_chi_square": self.pearson, "degrees_of_freedom": self.degrees_of_freedom,
                "windows": self.windows}


def pearson_dispersion(area: Sequence[int], comparison: Sequence[int]) -> Dispersion | None:
    """The quasi-Poisson dispersion of two areas' counts over the same earlier windows, before a programme.

    ``area[w]``, ``comparison[w]``: incidents in window ``w``. Fitted values of the independence model are
    ``row total × window total / grand total``; ``X² = Σ (observed - fitted)² / fitted`` over the ``n = 2W``
    cells of the W windows with any incident, on ``n - p = 2W - (W + 1) = W - 1`` degrees of freedom.
    None when there is no degree of freedom left or an area has no incident at all.
    """
    table = np.array([list(area), list(comparison)], dtype=float)
    if table.ndim != 2 or table.shape[1] == 0:
        return None
    table = table[:, table.sum(axis=0) > 0]
    windows = table.shape[1]
    rows = table.sum(axis=1)
    if windows < 2 or np.any(rows == 0):
        return None
    fitted = np.outer(rows, table.sum(axis=0)) / table.sum()
    pearson = float((((table - fitted) ** 2) / fitted).sum())
    return Dispersion(pearson=pearson, degrees_of_freedom=windows - 1, windows=windows)


@dataclass(frozen=True)
class RelativeChange:
    """An area's change against the comparison area, or the reason it cannot be measured or claimed."""

    ratio: float | None
    interval: Interval | None
    p_value: float | None
    detectable_fall: float | None  # smallest fall (0–1) these counts detect with the stated power
    reason: str | None = None  # why no ratio could be measured
    dispersion: Dispersion | None = None  # from the windows before the programme; None: Poisson counts assumed
    too_few: str | None = None  # why no effect may be claimed whatever the interval says

    @property
    def found(self) -> bool:
        """The interval excludes "no change" and the counts are enough to say so."""
        return self.too_few is None and self.interval is not None and not self.interval.contains(1.0)

    def as_dict(self) -> dict[str, object]:
        # full precision: whatever is shown is rounded once, where it is shown
        return {
            "ratio": self.ratio, "change_percent": None if self.ratio is None else (self.ratio - 1) * 100,
            "interval": None if self.interval is None else [self.interval.low, self.interval.high],
            "p_value": self.p_value, "detectable_fall_percent": (
                None if self.detectable_fall is None else self.detectable_fall * 100),
            "found": self.found, "reason": self.reason or self.too_few,
            "dispersion": None if self.dispersion is None else self.dispersion.as_dict(),
        }


@dataclass(frozen=True)
class DisplacementQuotient:
    """Bowers and Johnson's WDQ and its two parts."""

    displacement_measure: float  # Ba/Ca - Bb/Cb
    success_measure: float  # Ra/Ca - Rb/Cb
    quotient: float | None  # read only when the success measure is negative
    reading: str

    def as_dict(self) -> dict[str, object]:
        return {"displacement_measure": self.displacement_measure, "success_measure": self.success_measure,
                "quotient": self.quotient, "reading": self.reading,
                "quotient_shown": None if self.quotient is None else wdq_text(self.quotient)}


@dataclass(frozen=True)
class InterventionEvaluation:
    target: AreaCounts
    buffer: AreaCounts | None
    comparison: AreaCounts
    target_change: RelativeChange
    buffer_change: RelativeChange | None
    displacement: DisplacementQuotient | None
    level: float
    power: float
    sentence: str

    def as_dict(self) -> dict[str, object]:
        def counts(area: AreaCounts | None) -> dict[str, int] | None:
            return None if area is None else {"before": area.before, "after": area.after}

        return {
            "counts": {"target": counts(self.target), "buffer": counts(self.buffer),
                       "comparison": counts(self.comparison)},
            "target_change": self.target_change.as_dict(),
            "buffer_change": None if self.buffer_change is None else self.buffer_change.as_dict(),
            "displacement": None if self.displacement is None else self.displacement.as_dict(),
            "method": ("odds ratio (Poisson difference-in-differences on the log scale), its variance scaled by the "
                       "quasi-Poisson dispersion of the windows before (Pearson X² / (n - p)); WDQ (Bowers and "
                       "Johnson 2003)"),
            "level": self.level, "power": self.power, "sentence": self.sentence,
        }


def relative_change(area: AreaCounts, comparison: AreaCounts, *, level: float = 0.95, power: float = 0.8,
                    name: str = "target area", dispersion: Dispersion | None = None,
                    min_before: int = MIN_BEFORE) -> RelativeChange:
    """``area``'s after/before ratio over the comparison's, with a Wald interval on the log scale.

    ``dispersion`` (:func:`pearson_dispersion` of the windows before the programme): the variance is
    multiplied by its ``phi`` and the interval uses Student's t on its degrees of freedom; without it,
    Poisson counts are assumed (the normal distribution). Fewer than ``min_before`` incidents in the area
    before: the figures are given, but no effect is claimed.
    """
    variance = _log_ratio_variance(area, comparison, name)
    if isinstance(variance, str):
        return RelativeChange(None, None, None, None, reason=variance)
    log_ratio = _log_ratio(area, comparison)
    se = math.sqrt(variance * (dispersion.phi if dispersion else 1.0))
    reference = student_t(df=dispersion.degrees_of_freedom) if dispersion else norm
    z = float(reference.ppf(1 - (1 - level) / 2))
    p = float(2 * reference.sf(abs(log_ratio) / se))
    detectable = 1 - math.exp(-(z + float(reference.ppf(power))) * se)
    too_few = None
    if area.before < min_before:
        too_few = (f"there were only {area.before} incidents in the {name} in the window before the programme, "
                   f"and at least {min_before} are needed to tell a change from chance")
    return RelativeChange(ratio=math.exp(log_ratio),
                          interval=Interval(math.exp(log_ratio - z * se), math.exp(log_ratio + z * se)),
                          p_value=p, detectable_fall=detectable, dispersion=dispersion, too_few=too_few)


def _log_ratio(area: AreaCounts, comparison: AreaCounts) -> float:
    return (math.log(area.after) - math.log(area.before)
            - math.log(comparison.after) + math.log(comparison.before))


def _log_ratio_variance(area: AreaCounts, comparison: AreaCounts, name: str) -> float | str:
    """The Poisson variance of the log ratio, or why it cannot be measured."""
    empty = [label for label, value in ((f"the {name} before", area.before), (f"the {name} after", area.after),
                                        ("the comparison area before", comparison.before),
                                        ("the comparison area after", comparison.after)) if value == 0]
    if empty:
        return f"No incidents in {' or '.join(empty)}: a relative change cannot be measured from a zero count."
    return 1 / area.before + 1 / area.after + 1 / comparison.before + 1 / comparison.after


def displacement_quotient(target: AreaCounts, buffer: AreaCounts, comparison: AreaCounts, *,
                          fall_found: bool = True) -> DisplacementQuotient:
    """Bowers and Johnson's (2003) weighted displacement quotient with its parts.

    ``fall_found``: whether the target's fall against the comparison area was told apart from chance. The
    WDQ divides by the target's success measure, so it is read only when that success is real: a fall
    lost in the noise would give a quotient of any size (Bowers and Johnson read it only after a
    measured success).
    """
    if comparison.before == 0 or comparison.after == 0:
        raise NotMeasurable("The comparison area needs incidents before and after for the WDQ.")
    displacement = buffer.after / comparison.after - buffer.before / comparison.before
    success = target.after / comparison.after - target.before / comparison.before
    if success >= 0:
        return DisplacementQuotient(displacement, success, None,
                                    "Not read: the target area did not improve against the comparison area.")
    if not fall_found:
        return DisplacementQuotient(displacement, success, None,
                                    "Not read: the fall in the target area cannot be told apart from chance.")
    quotient = displacement / success
    if math.isclose(quotient, -1.0, abs_tol=1e-9):
        reading = "displacement as large as the fall in the target area"
    elif quotient < -1:
        reading = "displacement larger than the fall in the target area"
    elif quotient < 0:
        reading = "some displacement, smaller than the fall in the target area"
    elif quotient > 0:
        reading = "diffusion of benefits into the buffer"
    else:
        reading = "neither displacement nor diffusion"
    return DisplacementQuotient(displacement, success, quotient, reading)


def evaluate_intervention(target: AreaCounts, comparison: AreaCounts, buffer: AreaCounts | None = None, *,
                          level: float = 0.95, power: float = 0.8,
                          earlier: Sequence[tuple[int, int, int | None]] = ()) -> InterventionEvaluation:
    """Everything a partner needs to read an intervention's before/after counts honestly.

    ``earlier``: (target, comparison, buffer) incidents in each earlier window of the same length, oldest
    first, before the window just before the programme. With two or more, they give the over-dispersion
    (:func:`pearson_dispersion`); recommended, since crime counts vary more than Poisson
    (``bench/outcomes_calibration.py`` measures by how much).
    """
    change = relative_change(target, comparison, level=level, power=power,
                             dispersion=_dispersion(earlier, 0, target, comparison))
    buffer_change = None if buffer is None else relative_change(
        buffer, comparison, level=level, power=power, name="buffer",
        dispersion=_dispersion(earlier, 2, buffer, comparison))
    displacement = None
    if buffer is not None and comparison.before and comparison.after:
        displacement = displacement_quotient(target, buffer, comparison,
                                             fall_found=change.found and (change.ratio or 1.0) < 1)
    sentence = target_sentence(change, target, level, power)
    if buffer_change is not None:
        sentence += " " + _buffer_sentence(buffer_change, displacement, level)
    return InterventionEvaluation(target, buffer, comparison, change, buffer_change, displacement,
                                  level, power, sentence)


def _dispersion(earlier: Sequence[tuple[int, int, int | None]], column: int, area: AreaCounts,
                comparison: AreaCounts) -> Dispersion | None:
    """The dispersion of one area against the comparison over the earlier windows."""
    if not earlier or any(window[column] is None for window in earlier):
        return None
    return pearson_dispersion([int(w[column]) for w in earlier],  # type: ignore[arg-type]
                              [int(w[1]) for w in earlier])


def target_sentence(change: RelativeChange, target: AreaCounts, level: float = 0.95, power: float = 0.8) -> str:
    """The plain sentence on the target area's change against the comparison area."""
    if change.ratio is None or change.interval is None or change.detectable_fall is None:
        return f"No effect can be claimed. {change.reason}"
    if change.too_few:
        return f"No effect can be claimed: {change.too_few}."
    dispersion = change.dispersion
    return _target_claim(change, target, level, power) + (
        "" if dispersion is None else
        f" The interval allows for how much the target area varied against the comparison area in "
        f"{dispersion.windows} earlier periods of the same length ("
        + (f"{dispersion.phi:.1f} times as much as chance alone would)." if dispersion.phi > 1
           else "no more than chance alone would)."))


def _target_claim(change: RelativeChange, target: AreaCounts, level: float, power: float) -> str:
    assert change.ratio is not None and change.interval is not None and change.detectable_fall is not None
    ci = f"{_pct(level)} CI"
    if change.found and change.ratio < 1:
        return (f"Crime in the target area fell {_pct(1 - change.ratio)} more than in the comparison area "
                f"({ci} {_number(1 - change.interval.high)}–{_pct(1 - change.interval.low)}).")
    if change.found:
        return (f"Crime in the target area rose {_pct(change.ratio - 1)} more than in the comparison area "
                f"({ci} {_number(change.interval.low - 1)}–{_pct(change.interval.high - 1)}).")
    return (f"Crime in the target area changed {_signed(change.ratio - 1)} against the comparison area "
            f"({ci} {_signed(change.interval.low - 1)} to {_signed(change.interval.high - 1)}), which cannot be "
            f"told apart from chance, so no effect is claimed: with {target.before} incidents before and "
            f"{target.after} after in the target area, only a fall of about {_pct(change.detectable_fall)} or more "
            f"would be found {_pct(power)} of the time.")


def _buffer_sentence(change: RelativeChange, displacement: DisplacementQuotient | None, level: float) -> str:
    if change.ratio is None or change.interval is None:
        return f"Displacement into the surrounding cells cannot be measured. {change.reason}"
    if change.too_few:
        return f"Displacement into the surrounding cells cannot be judged: {change.too_few}."
    span = (f"({_pct(level)} CI {_signed(change.interval.low - 1)} to {_signed(change.interval.high - 1)} "
            f"against the comparison area")
    quotient = "" if displacement is None or displacement.quotient is None else \
        f"; weighted displacement quotient {wdq_text(displacement.quotient)}"
    if change.found and change.ratio > 1:
        return (f"Crime in the surrounding cells rose {_pct(change.ratio - 1)} against the comparison area "
                f"{span}{quotient}): a sign of displacement.")
    if change.found:
        return (f"Crime in the surrounding cells also fell {_pct(1 - change.ratio)} against the comparison area "
                f"{span}{quotient}): a diffusion of benefits, not displacement.")
    return (f"No clear sign of displacement into the surrounding cells: they changed {_signed(change.ratio - 1)} "
            f"{span}{quotient}).")


def coarse_sentence(target: dict[str, object] | None, buffer: dict[str, object] | None) -> str:
    """The sentence for a reader not shown the comparison area's counts: the change in whole percents and
    whether it can be told apart from chance, without the interval or the smallest detectable fall (with the
    target's counts, the interval's width gives the hidden counts away)."""
    parts = []
    for area, change, claim in (("the target area", target, "an effect"), ("the surrounding cells", buffer, None)):
        if change is None:
            continue
        percent = change.get("change_percent")
        if change.get("reason"):
            parts.append(f"No effect can be claimed in {area}: {change['reason']}" if claim else
                         f"Displacement into {area} cannot be judged: {change['reason']}")
            parts[-1] = parts[-1].rstrip(".") + "."
            continue
        if not isinstance(percent, int | float):
            continue
        told = ("which can be told apart from chance" if change.get("found") else
                "which cannot be told apart from chance" + (", so no effect is claimed" if claim else ""))
        parts.append(f"Crime in {area} changed about {round(percent):+d} % against the comparison area, {told}.")
    return " ".join(parts)


def _pct(fraction: float) -> str:
    return f"{_number(fraction)} %"


def _number(fraction: float) -> str:
    return f"{fraction * 100 + 0.0:.0f}"


def _signed(fraction: float) -> str:
    return f"{fraction * 100:+.0f} %"


def wdq_text(quotient: float) -> str:
    """The WDQ as sentences and pages show it: two decimals, rounded once from the full value."""
    return f"{quotient + 0.0:.2f}"
