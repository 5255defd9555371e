"""Measurable outcomes: how well a hot-spot map predicted the next period, and whether a programme worked.

Pure analysis on per-cell and per-area count arrays (numpy, scipy); the service
(:mod:`app.services.backtests`) wires it to stored runs and incidents. One
module per question:

- :mod:`spatial.outcomes.accuracy`: hit rate, Predictive Accuracy Index (PAI),
  Predictive Efficiency Index (PEI) and Recapture Rate Index (RRI) of a set of
  flagged cells against the incidents of a later window, with seeded bootstrap
  intervals (resampling incidents).
- :mod:`spatial.outcomes.baselines`: naive maps covering the same area to set
  beside them: last period's top cells by count, and a kernel density surface
  on the cell centres; "top x % of area" selection with ties shared fairly.
- :mod:`spatial.outcomes.intervention`: before/after counts in a target, buffer
  and comparison area: the relative change against the comparison (odds-ratio /
  Poisson difference-in-differences on the log scale) with its interval, the
  weighted displacement quotient, and a plain sentence for a partner that
  refuses to claim an effect the counts cannot support, with the reason.
"""

from spatial.outcomes.accuracy import Accuracy, Interval, prediction_accuracy
from spatial.outcomes.baselines import kernel_surface, top_area
from spatial.outcomes.intervention import AreaCounts, InterventionEvaluation, evaluate_intervention

__all__ = [
    "Accuracy", "AreaCounts", "InterventionEvaluation", "Interval", "evaluate_intervention", "kernel_surface",
    "prediction_accuracy", "top_area",
]
