"""Seeded, deterministic synthetic data for simulating a round: the draws (:mod:`.draws`: counties,
submissions, decisions, scores, figures) and the :class:`World` that plays them out for
``qcycle simulate``, the tests and the benchmark alike (:mod:`.world`)."""

from qcycle.synthetic.draws import (
    COUNTED,
    decide,
    malformed,
    measurements,
    plan_submissions,
    reported_figures,
    scores,
    with_counties,
)
from qcycle.synthetic.world import World, play_locally

__all__ = ["COUNTED", "World", "decide", "malformed", "measurements", "plan_submissions", "play_locally",
           "reported_figures", "scores", "with_counties"]
