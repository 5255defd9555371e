"""Two runs as a pair to compare: whether they can be, which comes before, and how their settings differ.

A rate run (hot spots of risk) and a run of counts (hot spots of volume) answer different questions, so
a cell that is hot in one and not the other says nothing about change: such a pair is refused. A pair is
put in time order by the end of each run's period (the earlier is "before"), whatever their ids; runs
whose periods end together keep the order they were given in. Every setting in which the two runs
differ is named, so a planner does not read a change of settings as a change on the ground.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.errors import Unprocessable
from app.runs import Run, RunParameters
from app.services import run_words


@dataclass(frozen=True)
class Difference:
    """A setting in which the two runs differ, with each run's value in words."""

    setting: str
    before: str
    after: str

    def sentence(self) -> str:
        return f"{self.setting}: {self.before} (before) and {self.after} (after)."


def refuse_mixed_measures(first: Run, second: Run) -> None:
    """A rate run and a run of counts cannot be compared cell by cell: refused in words (422)."""
    if run_words.measures(first) != run_words.measures(second):
        rate, count = (first, second) if run_words.measures(first) == run_words.RISK else (second, first)
        raise Unprocessable(
            f"Run {rate.id} finds hot spots of risk (incidents per resident) and run {count.id} hot spots of volume "
            "(numbers of incidents): they answer different questions, so their hot spots cannot be compared. "
            "Compare two rate runs, or two runs of counts.",
            details={"risk_run": rate.id, "volume_run": count.id})


def in_time_order(first: Run, second: Run) -> tuple[Run, Run]:
    """The pair as (before, after): by the end of each period, the given order when they end together."""
    return (second, first) if run_words.period_end(second) < run_words.period_end(first) else (first, second)


def differences(before: Run, after: Run, sees_community: Callable[[str], bool] | None = None) -> list[Difference]:
    """Every setting the two runs differ in: resolution, categories, communities, period, audience, test.

    ``sees_community``: a scoped partner's rule, so only its communities are named or compared."""
    def shown(run: Run) -> RunParameters:
        return run.parameters if sees_community is None else run.parameters.scoped(sees_community)

    def words(run: Run) -> dict[str, str]:
        parameters = shown(run)
        return {
            "Cell size": run_words.cell_size_label(parameters.resolution),
            "Categories": run_words.categories_label(parameters),
            "Communities": run_words.communities_label(parameters),
            "Period": run_words.period_label(parameters.start, parameters.end),
            "Shared with": run_words.audience_label(run),
            "Confidence test": run_words.confidence_test_words(run),
        }

    first, second = words(before), words(after)
    return [Difference(setting, first[setting], second[setting]) for setting in first
            if first[setting] != second[setting]]
