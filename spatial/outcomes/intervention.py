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
the 2×2 table, which is saturated, so its estimate and Wald interval are exactly these. The
variance assumes Poisson counts; crime counts are often over-dispersed, which makes the
interval too narrow (Farrington and Welsh inflate it for that); the calibration benchmark
(``bench/outcomes_calibration.py``) measures the false-claim rate on Poisson nulls.

An effect is claimed only when the interval excludes no change (two-sided, at ``level``). When
it does not, the sentence says why from the counts themselves: the smallest fall that these
counts would detect with the stated power, ``1 - exp(-(z_(1-α/2) + z_power) · se)``.

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

from scipy.stats import norm
from scipy.stats import t as student_t

from spatial.outcomes.accuracy import Interval, NotMeasurable


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
class RelativeChange:
    """An area's change against the comparison area, or the reason it cannot be measured."""

    ratio: float | None
    interval: Interval | None
    p_value: float | None
    detectable_fall: float | None  # smallest fall (0–1) these counts detect with the stated power
    reason: str | None = None
    extra_variance: float = 0.0  # added to the Poisson variance of the log ratio from earlier periods
    earlier_periods: int = 0

    @property
    def found(self) -> bool:
        """The interval excludes "no change"."""
        return self.interval is not None and not self.interval.contains(1.0)

    def as_dict(self) -> dict[str, object]:
        return {
            "ratio": _round(self.ratio), "change_percent": _round(None if self.ratio is None else
                                                                  (self.ratio - 1) * 100, 2),
            "interval": None if self.interval is None else [_round(self.interval.low), _round(self.interval.high)],
            "p_value": _round(self.p_value), "detectable_fall_percent": _round(
                None if self.detectable_fall is None else self.detectable_fall * 100, 1),
            "found": self.found, "reason": self.reason, "extra_variance": _round(self.extra_variance, 6),
            "earlier_periods": self.earlier_periods,
        }


@dataclass(frozen=True)
class DisplacementQuotient:
    """Bowers and Johnson's WDQ and its two parts."""

    displacement_measure: float  # Ba/Ca - Bb/Cb
    success_measure: float  # Ra/Ca - Rb/Cb
    quotient: float | None  # read only when the success measure is negative
    reading: str

    def as_dict(self) -> dict[str, object]:
        return {"displacement_measure": _round(self.displacement_measure),
                "success_measure": _round(self.success_measure), "quotient": _round(self.quotient),
                "reading": self.reading}


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
            "method": "odds ratio (Poisson difference-in-differences on the log scale); WDQ (Bowers and Johnson 2003)",
            "level": self.level, "power": self.power, "sentence": self.sentence,
        }


def relative_change(area: AreaCounts, comparison: AreaCounts, *, level: float = 0.95, power: float = 0.8,
                    name: str = "target area",
                    earlier: Sequence[tuple[AreaCounts, AreaCounts]] = ()) -> RelativeChange:
    """``area``'s after/before ratio over the comparison's, with a Wald interval on the log scale.

    ``earlier``: (area, comparison) before/after counts of earlier pairs of windows with no
    intervention. When given, the interval also allows for how much the log ratio moved between them
    beyond Poisson noise (method of moments: the mean of ``log_ratio² - Poisson variance``, floored
    at 0), the over-dispersion that otherwise makes the Poisson interval too narrow; the interval then
    uses Student's t on as many degrees of freedom as earlier periods.
    """
    variance = _log_ratio_variance(area, comparison, name)
    if isinstance(variance, str):
        return RelativeChange(None, None, None, None, reason=variance)
    log_ratio = _log_ratio(area, comparison)
    extra = _extra_variance(earlier)
    se = math.sqrt(variance + extra)
    # with the variance estimated from m earlier periods, Student's t on m degrees of freedom
    reference = student_t(df=len(earlier)) if earlier else norm
    z = float(reference.ppf(1 - (1 - level) / 2))
    p = float(2 * reference.sf(abs(log_ratio) / se))
    detectable = 1 - math.exp(-(z + float(reference.ppf(power))) * se)
    return RelativeChange(ratio=math.exp(log_ratio),
                          interval=Interval(math.exp(log_ratio - z * se), math.exp(log_ratio + z * se)),
                          p_value=p, detectable_fall=detectable, extra_variance=extra,
                          earlier_periods=len(earlier))


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


def _extra_variance(earlier: Sequence[tuple[AreaCounts, AreaCounts]]) -> float:
    excess = [_log_ratio(a, c) ** 2 - v for a, c in earlier
              if not isinstance(v := _log_ratio_variance(a, c, "area"), str)]
    return max(0.0, sum(excess) / len(excess)) if excess else 0.0


def displacement_quotient(target: AreaCounts, buffer: AreaCounts, comparison: AreaCounts) -> DisplacementQuotient:
    """Bowers and Johnson's (2003) weighted displacement quotient with its parts."""
    if comparison.before == 0 or comparison.after == 0:
        raise NotMeasurable("The comparison area needs incidents before and after for the WDQ.")
    displacement = buffer.after / comparison.after - buffer.before / comparison.before
    success = target.after / comparison.after - target.before / comparison.before
    if success >= 0:
        return DisplacementQuotient(displacement, success, None,
                                    "Not read: the target area did not improve against the comparison area.")
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
                          earlier: Sequence[tuple[AreaCounts, AreaCounts, AreaCounts | None]] = ()
                          ) -> InterventionEvaluation:
    """Everything a partner needs to read an intervention's before/after counts honestly.

    ``earlier``: (target, comparison, buffer) counts of earlier before/after pairs of windows, before
    the programme, to allow for over-dispersion (see :func:`relative_change`); recommended, since
    crime counts vary more than Poisson (``bench/outcomes_calibration.py`` measures by how much).
    """
    change = relative_change(target, comparison, level=level, power=power,
                             earlier=[(t, c) for t, c, _ in earlier])
    buffer_change = None if buffer is None else relative_change(
        buffer, comparison, level=level, power=power, name="buffer",
        earlier=[(b, c) for _, c, b in earlier if b is not None])
    displacement = None
    if buffer is not None and comparison.before and comparison.after:
        displacement = displacement_quotient(target, buffer, comparison)
    sentence = _target_sentence(change, target, level, power)
    if buffer_change is not None:
        sentence += " " + _buffer_sentence(buffer_change, displacement, level)
    return InterventionEvaluation(target, buffer, comparison, change, buffer_change, displacement,
                                  level, power, sentence)


def _target_sentence(change: RelativeChange, target: AreaCounts, level: float, power: float) -> str:
    if change.ratio is None or change.interval is None or change.detectable_fall is None:
        return f"No effect can be claimed. {change.reason}"
    return _target_claim(change, target, level, power) + (
        f" The interval allows for how much the target area varied against the comparison area in "
        f"{change.earlier_periods} earlier period{'s' if change.earlier_periods != 1 else ''}."
        if change.earlier_periods else "")


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
    span = (f"({_pct(level)} CI {_signed(change.interval.low - 1)} to {_signed(change.interval.high - 1)} "
            f"against the comparison area")
    quotient = "" if displacement is None or displacement.quotient is None else \
        f"; weighted displacement quotient {displacement.quotient + 0.0:.2f}"
    if change.found and change.ratio > 1:
        return (f"Crime in the surrounding cells rose {_pct(change.ratio - 1)} against the comparison area "
                f"{span}{quotient}): a sign of displacement.")
    if change.found:
        return (f"Crime in the surrounding cells also fell {_pct(1 - change.ratio)} against the comparison area "
                f"{span}{quotient}): a diffusion of benefits, not displacement.")
    return (f"No clear sign of displacement into the surrounding cells: they changed {_signed(change.ratio - 1)} "
            f"{span}{quotient}).")


def _pct(fraction: float) -> str:
    return f"{_number(fraction)} %"


def _number(fraction: float) -> str:
    return f"{fraction * 100 + 0.0:.0f}"


def _signed(fraction: float) -> str:
    return f"{fraction * 100:+.0f} %"


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)
