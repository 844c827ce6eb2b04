"""Comparing learning runs at equal environment steps: the summaries of the folders beside this file."""
import numpy as np

#: an evaluation counts for a step only this close to it (evaluations every 10k or 20k steps; on-policy runs
#: evaluate after whole rollouts, at 502k for 500k)
WITHIN = 10_000


def nearest(steps: np.ndarray, values: np.ndarray, step: int):
    """``values`` (one per evaluation, at ``steps``) at the evaluation nearest to ``step``; None where there is none
    within :data:`WITHIN` steps."""
    i = int(np.argmin(np.abs(steps - step)))
    return float(values[i]) if abs(steps[i] - step) <= WITHIN else None
