"""A run described in a planner's words: what it measured, the test it used, its period and parameters.

The one place these words are made, so the map, the print sheet and the compare page say the same thing:
a run of counts finds "Hot spots of volume" (where incidents are many), a rate run (``value: rate``)
"Hot spots of risk" (where incidents are many for the residents), and each names its test in plain words.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.runs import Run, RunParameters
from spatial.inference import EXACT
from spatial.islands import cell_size_words
from spatial.kinds import DEFAULT_KIND
from spatial.rates.risk_inference import POISSON_GAMMA

VOLUME = "volume"
RISK = "risk"


def measures(run: Run) -> str:
    """What the run's hot spots are of: ``"risk"`` for a rate run (incidents per resident), else ``"volume"``."""
    return RISK if run.parameters.document.get("value") == "rate" else VOLUME


def run_heading(run: Run) -> str:
    """The heading of a run's map, sheet and comparison: "Hot spots of volume", "Hot spots of risk" or
    the kind's own heading (emerging hot spots)."""
    if run.kind.name == DEFAULT_KIND:
        return f"Hot spots of {measures(run)}"
    return run.kind.heading.removesuffix(", run")


def run_title(run: Run) -> str:
    """The heading with the run's number: "Hot spots of risk, run 12"."""
    return f"{run_heading(run)}, run {run.id}"


def confidence_test_words(run: Run) -> str:
    """The test that decided which cells are hot or cold spots, in plain words (with the FDR correction)."""
    method = (run.provenance.document.get("significance") or {}).get("method")
    inference = run.provenance.inference or run.parameters.inference
    if run.kind.name != DEFAULT_KIND:
        words = ("Gi* of each cell and its neighbours in each time step, and the trend of its scores over the "
                 "steps (Mann-Kendall test)")
    elif inference == "analytic":
        words = "Normal approximation of Gi*, as ArcGIS does (it over-reports hot spots on sparse counts)"
    elif method == POISSON_GAMMA or (method is None and measures(run) == RISK):
        words = "Each neighbourhood's incidents against its residents (negative binomial test)"
    elif method == EXACT:
        words = "Each neighbourhood's incidents against every way they could have been spread (exact permutation test)"
    else:
        words = ("Each neighbourhood's incidents against "
                 + (f"{run.parameters.permutations} " if run.parameters.permutations else "")
                 + "random rearrangements of them (permutation test)")
    if run.parameters.fdr:
        words += ", corrected for testing many cells at once (false discovery rate)"
    return words


def period_label(start: str | None, end: str | None) -> str:
    """A run's period as a planner reads it, with the last day included ("2025-01-01 to 2025-03-31");
    the stored end is exclusive (the first moment not counted)."""
    def day(stamp: str) -> str:
        return stamp[:10]

    def last_day(stamp: str) -> str:
        moment = datetime.fromisoformat(stamp)
        if (moment.hour, moment.minute, moment.second, moment.microsecond) == (0, 0, 0, 0):
            return (moment - timedelta(days=1)).strftime("%Y-%m-%d")
        return f"{moment:%Y-%m-%d %H:%M} (not included)"

    if start and end:
        return f"{day(start)} to {last_day(end)}"
    if end:
        return f"up to {last_day(end)}"
    return f"from {day(start)}" if start else "all dates"


def period_end(run: Run) -> datetime:
    """When the period the run counted ends (exclusive), as an aware moment: its end date, or for a run
    of every date up to when it ran, the moment it finished (else was created; else never)."""
    moment = _moment(run.parameters.end) or _moment(run.finished_at) or _moment(run.created_at)
    return moment or datetime.max.replace(tzinfo=UTC)


def _moment(value: datetime | str | None) -> datetime | None:
    """A stored time as an aware moment (a time without a zone is UTC, as the stores keep it)."""
    if value is None or value == "":
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def cell_size_label(resolution: int | None) -> str:
    """The cell size on the ground: "H3 res 9 ≈ 0.11 km², about 350 m across"."""
    return f"H3 {cell_size_words(int(resolution))}" if resolution else "not recorded"


def categories_label(parameters: RunParameters) -> str:
    return ", ".join(parameters.document.get("categories") or []) or "all"


def communities_label(parameters: RunParameters) -> str:
    return ", ".join(parameters.communities) or "all communities"


def audience_label(run: Run) -> str:
    return "partners" if run.audience == "shared" else "police only"


def parameter_rows(run: Run, parameters: RunParameters) -> list[tuple[str, str]]:
    """The run's parameters as (label, value) rows: ``parameters`` as the reader may see them (a scoped
    partner's communities only)."""
    return [
        ("Analysis", run_heading(run)),
        ("Period", period_label(parameters.start, parameters.end)),
        ("Categories", categories_label(parameters)),
        ("Communities", communities_label(parameters)),
        ("Cell size", cell_size_label(parameters.resolution)),
        ("Confidence test", confidence_test_words(run)),
        ("Shared with", audience_label(run)),
    ]
