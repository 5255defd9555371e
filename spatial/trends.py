"""Trends per community, CompStat style: this period against the last, and against a year ago.

Input: each community's incidents per period (calendar month, or week), oldest
first, with 0 for a period without incidents (``NaN`` where a count is not
known, such as a month below the privacy threshold for partners).

**The change test.** Two counts of the same community in two periods of the
same length (equal exposure) are modelled as Poisson. Given their sum
``n = before + after``, "no change in the underlying rate" means
``after ~ Binomial(n, 1/2)`` (the conditional test; Przyborowski and Wilenski
1940). The two-sided p-value is twice the smaller tail, at most 1; for
``p = 1/2`` this equals ``scipy.stats.binomtest``'s. The 95 % interval of the
rate ratio ``after / before`` comes from the Clopper-Pearson interval
``(pi_L, pi_U)`` of ``pi = after / n``, through ``ratio = pi / (1 - pi)``; it
excludes 1 exactly when p < 0.05.

Why 3 -> 6 is not a rise: of 9 incidents, 6 falling in the second month
happens by chance with p = 0.51 when nothing changed. With very few incidents
no split at all could be significant: the smallest p possible for a sum ``n``
is that of the split ``0 | n``, ``2 * 0.5**n`` (so n must be at least 6). We
compute that exactly for each row (for the adjusted test below too) and say
"too few incidents to tell" when it is not below alpha, rather than show a
percentage.

**Over-dispersion.** Crime counts often vary more from month to month than a
Poisson count would (variance > mean), and then the Poisson test calls too
many changes significant. We estimate the dispersion ``phi`` from the
community's own history (the periods before the two compared, at least
``MIN_HISTORY``) with the mean square successive difference,
``phi = sum (x_t - x_{t-1})**2 / (2 (m - 1)) / mean(x)`` (von Neumann 1941):
it is 1 for a Poisson series and, unlike the plain variance, is hardly moved by
a slow trend. When ``phi > 1`` the test becomes the negative-binomial one: if
both counts are negative binomial with the same mean ``mu`` and
``Var = phi * mu`` (a Gamma-Poisson mixture of shape ``r = mu / (phi - 1)``),
then given ``n``, ``after ~ BetaBinomial(n, r, r)`` exactly (the ratio of the
two Gamma rates is Beta(r, r)); ``mu`` is taken as ``n / 2``. ``phi`` is never
taken below 1 (a quieter history than Poisson does not make the test bolder),
which keeps the test at or under its level on Poisson data. ``phi`` is itself
estimated from a few dozen periods at most, so, as quasi-Poisson does with an
estimated dispersion, the beta-binomial p is referred to Student's t with the
estimate's degrees of freedom ``nu`` (below) instead of the normal: its normal
deviate is kept, its tail is t's. Without that the test called 6-7 % of
no-change months significant at phi = 2-4; with it, at most 5 % within Monte
Carlo error (bench/trends_calibration.py, which also measures the power lost).
The interval then is Clopper-Pearson on the effective counts ``after / s`` and
``n / s`` with ``s = phi * (t_nu / z)**2`` at the interval's level (the
quasi-Poisson scaling, widened as the t reference widens the test). A separate, approximate test says in
words when the history is clearly over-dispersed: ``phi`` times ``nu`` against
chi-squared with ``nu = 2 (m - 1)**2 / (3 m - 4)`` degrees of freedom (the
variance of the successive-difference estimator). With a shorter history the
plain Poisson test is used, and the words say so.

**Trend.** The Mann-Kendall test of each community's series
(:func:`spatial.emerging.trend.mann_kendall`, with ties; hidden periods are
left out) and Sen's slope (the median of the pairwise slopes, incidents per
period). It needs ``MIN_PERIODS_FOR_TREND`` known periods. Mann-Kendall assumes
no autocorrelation or seasonality; over a few years of months, a seasonal
pattern can look like a trend, so read it alongside the chart.
"""

from __future__ import annotations

from dataclasses import dataclass
import numpy as np
from scipy import stats as sps

from spatial.emerging.trend import mann_kendall

ALPHA = 0.05
MIN_PERIODS_FOR_TREND = 6
MIN_HISTORY = 6
STEPS = ("month", "week")
UNIT = {"month": "month", "week": "week"}


@dataclass(frozen=True)
class CountChange:
    """The change from ``before`` to ``after`` for each row, with its test.

    Attributes
    ----------
    before, after : numpy.ndarray of float
        The counts compared (NaN: not known).
    change : numpy.ndarray
        ``after - before``.
    percent : numpy.ndarray
        ``100 * change / before`` (NaN when ``before`` is 0 or not known).
    p : numpy.ndarray
        Two-sided p of "no change in the rate" (NaN when there is nothing to test).
    smallest_p : numpy.ndarray
        The smallest p any split of ``before + after`` could give (1 when the sum is 0).
    ratio_low, ratio_high : numpy.ndarray
        95 % interval of the rate ratio ``after / before`` (NaN when not tested).
    dispersion : numpy.ndarray
        The ``phi`` the test allowed for (1: plain Poisson).
    significant : numpy.ndarray of bool
        ``p < alpha``.
    verdict : list of str
        The change and its test in plain words.
    """

    before: np.ndarray
    after: np.ndarray
    change: np.ndarray
    percent: np.ndarray
    p: np.ndarray
    smallest_p: np.ndarray
    ratio_low: np.ndarray
    ratio_high: np.ndarray
    dispersion: np.ndarray
    significant: np.ndarray
    verdict: list[str]


@dataclass(frozen=True)
class Dispersion:
    """Each row's dispersion ``phi`` (NaN: history too short), the approximate p that the history is
    over-dispersed, how many known periods it was estimated from, and the degrees of freedom of the
    estimate."""

    phi: np.ndarray
    p: np.ndarray
    periods: np.ndarray
    dof: np.ndarray


@dataclass(frozen=True)
class Trend:
    """Mann-Kendall over each row's series, with Sen's slope (incidents per period) and words."""

    s: np.ndarray
    tau: np.ndarray
    p: np.ndarray
    slope: np.ndarray
    periods: np.ndarray
    verdict: list[str]


def _tail(k: np.ndarray, n: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """P(X <= k) for X ~ Binomial(n, 1/2) where ``shape`` is inf, else BetaBinomial(n, shape, shape)."""
    plain = ~np.isfinite(shape)
    out = np.empty(len(k), dtype=np.float64)
    out[plain] = sps.binom.cdf(k[plain], n[plain], 0.5)
    mixed = ~plain
    out[mixed] = sps.betabinom.cdf(k[mixed], n[mixed], shape[mixed], shape[mixed])
    return out


UNKNOWN = "one of the two counts is not known"


def change_test(before: np.ndarray, after: np.ndarray, dispersion: np.ndarray | None = None,
                alpha: float = ALPHA, unit: str = "month", unknown: str = UNKNOWN,
                dispersion_dof: np.ndarray | None = None) -> CountChange:
    """Test each row's change from ``before`` to ``after`` (equal periods), allowing for ``dispersion``.

    ``dispersion`` is each row's ``phi`` (NaN or values under 1 count as 1: the Poisson test), and
    ``dispersion_dof`` the degrees of freedom of its estimate (None or inf: ``phi`` taken as known);
    ``unknown`` says why a count may be missing (NaN), for the words.
    """
    b = np.asarray(before, dtype=np.float64)
    a = np.asarray(after, dtype=np.float64)
    rows = len(b)
    phi = np.ones(rows) if dispersion is None else np.fmax(np.nan_to_num(np.asarray(dispersion, float), nan=1.0), 1.0)
    known = np.isfinite(a) & np.isfinite(b)
    n = np.where(known, a + b, 0.0)
    tested = known & (n > 0)
    # Beta-binomial shape r = mu / (phi - 1) with mu = n / 2; inf: the binomial (phi = 1).
    with np.errstate(divide="ignore", invalid="ignore"):
        shape = np.where(phi > 1.0, (n / 2.0) / (phi - 1.0), np.inf)
    p = np.full(rows, np.nan)
    smallest = np.ones(rows)
    low = np.full(rows, np.nan)
    high = np.full(rows, np.nan)
    if tested.any():
        k, m, r = a[tested], n[tested], shape[tested]
        dof = np.full(len(k), np.inf) if dispersion_dof is None else np.asarray(dispersion_dof, float)[tested]
        dof = np.where(phi[tested] > 1.0, np.nan_to_num(dof, nan=np.inf), np.inf)
        p[tested] = _estimated(np.minimum(1.0, 2.0 * _tail(np.minimum(k, m - k), m, r)), dof)
        smallest[tested] = _estimated(np.minimum(1.0, 2.0 * _tail(np.zeros_like(k), m, r)), dof)
        # the interval widened as the t reference widens the test: phi times (t / z) squared
        widen = (sps.t.ppf(1 - alpha / 2, dof) / sps.norm.ppf(1 - alpha / 2)) ** 2
        scale = phi[tested] * widen
        low[tested], high[tested] = _ratio_interval(k / scale, m / scale, alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        percent = np.where(known & (b > 0), 100.0 * (a - b) / b, np.nan)
    significant = np.nan_to_num(p, nan=1.0) < alpha
    verdict = [_change_words(b[i], a[i], percent[i], p[i], smallest[i], alpha, unit, unknown) for i in range(rows)]
    return CountChange(before=b, after=a, change=a - b, percent=percent, p=p, smallest_p=smallest,
                       ratio_low=low, ratio_high=high, dispersion=phi, significant=significant, verdict=verdict)


def _estimated(p: np.ndarray, dof: np.ndarray) -> np.ndarray:
    """A two-sided p referred to Student's t with ``dof`` instead of the normal (inf: unchanged), as
    quasi-Poisson does when the dispersion is estimated: its normal deviate is kept, its tail is t's."""
    return np.where(np.isfinite(dof), 2.0 * sps.t.sf(sps.norm.isf(p / 2.0), np.where(np.isfinite(dof), dof, 1.0)), p)


def _ratio_interval(k: np.ndarray, n: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Clopper-Pearson interval of ``pi = k / n`` turned into the rate ratio ``pi / (1 - pi)``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        pi_low = np.where(k > 0, sps.beta.ppf(alpha / 2, k, n - k + 1), 0.0)
        pi_high = np.where(k < n, sps.beta.ppf(1 - alpha / 2, k + 1, n - k), 1.0)
        return pi_low / (1 - pi_low), np.where(pi_high < 1, pi_high / (1 - pi_high), np.inf)


def p_words(p: float) -> str:
    """'p = 0.51', 'p = 0.003', 'p < 0.001'."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.2g}"


def _count(value: float) -> str:
    return f"{int(value):,}"


def _change_words(before: float, after: float, percent: float, p: float, smallest: float,
                  alpha: float, unit: str, unknown: str) -> str:
    if not (np.isfinite(before) and np.isfinite(after)):
        return f"cannot be compared: {unknown}"
    if before == 0 and after == 0:
        return f"no incidents in either {unit}"
    if before == 0:
        change = f"up from 0 to {_count(after)}"
    elif before == after:
        change = "no change"
    else:
        change = f"{'up' if after > before else 'down'} {abs(percent):.0f} %"
    if smallest >= alpha:
        counts = "" if before == 0 else f" ({_count(before)} to {_count(after)})"
        return (f"{change}{counts}: too few incidents to tell a change from "
                f"chance (even all {_count(before + after)} in one {unit} would not be significant)")
    if p < alpha:
        return f"{change}, unlikely to be chance ({p_words(p)})"
    return f"{change}, within normal variation ({p_words(p)})"


def dispersion_of(history: np.ndarray, min_history: int = MIN_HISTORY) -> Dispersion:
    """Each row's dispersion ``phi`` from the mean square successive difference of its known periods.

    NaN where fewer than ``min_history`` periods are known or the mean is 0.
    """
    x = np.asarray(history, dtype=np.float64)
    known = np.isfinite(x)
    m = known.sum(axis=1)
    mean = np.where(m > 0, np.nansum(x, axis=1) / np.maximum(m, 1), np.nan)
    if x.shape[1] > 1:
        steps = np.diff(x, axis=1)  # a NaN period leaves out both of its differences
        pairs = np.isfinite(steps).sum(axis=1)
        square = np.nansum(steps**2, axis=1)
    else:
        pairs = np.zeros(len(x), dtype=np.int64)
        square = np.zeros(len(x))
    enough = (m >= min_history) & (pairs > 0) & (mean > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        phi = np.where(enough, square / (2.0 * pairs) / mean, np.nan)
        nu = 2.0 * (m - 1.0) ** 2 / (3.0 * m - 4.0)
        p = np.where(enough, sps.chi2.sf(phi * nu, nu), np.nan)
    return Dispersion(phi=phi, p=p, periods=m, dof=np.where(enough, nu, np.nan))


def trend_of(series: np.ndarray, alpha: float = ALPHA, unit: str = "month",
             min_periods: int = MIN_PERIODS_FOR_TREND) -> Trend:
    """Mann-Kendall and Sen's slope of each row (oldest period first).

    A NaN period is one not known (below analyst: hidden under the privacy threshold). Hidden periods
    are the small ones, so a trend over the periods left would lean upward: a row with any hidden
    period gets no trend (NaN), and its words say why."""
    x = np.asarray(series, dtype=np.float64)
    result = mann_kendall(x)
    slope = sens_slope(x)
    hidden = np.isnan(x).sum(axis=1)
    verdict = []
    for i in range(len(x)):
        n = int(result.n[i])
        span = f"the {n} {unit}s"
        if hidden[i]:
            verdict.append(f"no trend given: {int(hidden[i])} of the {x.shape[1]} {unit}s are hidden, and hidden "
                           f"{unit}s are the small ones, so a trend over the rest would lean upward")
        elif n < min_periods:
            verdict.append(f"too short a series for a trend ({n} {unit}s known; {min_periods} needed)")
        elif not np.isfinite(result.p[i]):
            verdict.append(f"no change over {span}")
        elif result.p[i] < alpha:
            direction = "rising" if result.s[i] > 0 else "falling"
            verdict.append(f"{direction} over {span}, about {slope[i]:+.1f} a {unit} "
                           f"(Mann-Kendall {p_words(result.p[i])})")
        else:
            verdict.append(f"no clear trend over {span} (Mann-Kendall {p_words(result.p[i])})")
    short = (result.n < min_periods) | (hidden > 0)
    return Trend(s=result.s, tau=np.where(short, np.nan, result.tau), p=np.where(short, np.nan, result.p),
                 slope=np.where(short, np.nan, slope), periods=result.n, verdict=verdict)


def sens_slope(series: np.ndarray) -> np.ndarray:
    """Sen's slope of each row: the median of ``(x_j - x_i) / (j - i)`` over known pairs ``i < j``."""
    x = np.asarray(series, dtype=np.float64)
    steps = x.shape[1]
    first, second = np.triu_indices(steps, k=1)
    if len(first) == 0:
        return np.full(len(x), np.nan)
    slopes = (x[:, second] - x[:, first]) / (second - first)
    known = np.isfinite(slopes).any(axis=1)
    out = np.full(len(x), np.nan)
    if known.any():
        out[known] = np.nanmedian(slopes[known], axis=1)
    return out


@dataclass(frozen=True)
class CompStat:
    """The CompStat rows of every community: the latest period against the previous one and against
    the same period a year earlier (months, when the series reaches back that far), and the trend."""

    last_period: CountChange
    year_earlier: CountChange | None
    dispersion: Dispersion
    trend: Trend


def compstat(series: np.ndarray, step: str = "month", alpha: float = ALPHA, unknown: str = UNKNOWN) -> CompStat:
    """CompStat figures of each row of ``series`` (communities x periods, oldest first, the latest
    complete period last; ``unknown`` says in words why a count may be NaN)."""
    if step not in STEPS:
        raise ValueError(f"step must be one of {', '.join(STEPS)}")
    x = np.asarray(series, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] < 2:
        raise ValueError("series must be a (communities, periods) array of at least two periods")
    unit = UNIT[step]
    spread = dispersion_of(x[:, :-2])
    last = change_test(x[:, -2], x[:, -1], spread.phi, alpha, unit, unknown, spread.dof)
    year = None
    if step == "month" and x.shape[1] > 12:
        year = change_test(x[:, -13], x[:, -1], spread.phi, alpha, unit, unknown, spread.dof)
    return CompStat(last_period=last, year_earlier=year, dispersion=spread, trend=trend_of(x, alpha, unit))


def dispersion_words(spread: Dispersion, row: int, unit: str = "month", alpha: float = ALPHA) -> str:
    """How the test allowed for the swings of this community's history, in words."""
    periods = int(spread.periods[row])
    if not np.isfinite(spread.phi[row]):
        return (f"history too short or empty to check the usual {unit}-to-{unit} swings "
                f"({periods} {unit}s; {MIN_HISTORY} needed): plain Poisson test")
    phi = float(spread.phi[row])
    if np.isfinite(spread.p[row]) and spread.p[row] < alpha:
        return (f"{unit}-to-{unit} swings here are larger than chance alone gives ({phi:.1f} times); "
                "the test allows for that")
    if phi > 1:
        return f"{unit}-to-{unit} swings as chance gives (dispersion {phi:.1f}, allowed for)"
    return f"{unit}-to-{unit} swings as chance gives (dispersion {phi:.1f}): plain Poisson test"
