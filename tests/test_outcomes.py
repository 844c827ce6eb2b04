"""Per-episode task outcomes in evaluation (SMAC's win rate): counted from the real SMAX's ``Step.info["won"]``
and checked against the reward, which is independent of it: a won SMAC battle returns exactly 20 and a lost
or drawn one less (deep/envs/smac.py)."""
import numpy as np
import pytest

from deep.algos.base import Acted
from deep.envs import make_env
from deep.run.evaluate import OUTCOMES, evaluate

pytest.importorskip("jaxmarl")
from tests.test_envs_smac import focus_fire, random_available  # noqa: E402

EPISODES = 32  # the paper's SMAC protocol: 32 greedy episodes per evaluation


class Scripted:
    """A policy without parameters in the Algorithm's act() shape."""

    def __init__(self, choose):
        self.choose = choose

    def act(self, obs, avail, *, deterministic=False, rng=None):
        acts = self.choose(avail)
        return Acted(acts, acts, None)


@pytest.fixture(scope="module")
def env():
    e = make_env("smac", "3m", 4, seed=0)
    yield e
    e.close()


@pytest.mark.parametrize("policy", ["focus_fire", "random"])
def test_smac_win_rate_is_the_count_of_won_episodes(env, policy):
    rng = np.random.default_rng(0)
    choose = focus_fire if policy == "focus_fire" else (lambda avail: random_available(avail, rng))
    outcomes = {}
    rets = evaluate(Scripted(choose), env, EPISODES, seed=1, outcomes=outcomes)
    assert set(outcomes) == {"won"} and outcomes["won"].shape == rets.shape == (EPISODES,)
    won = outcomes["won"]
    assert set(np.unique(won)) <= {0.0, 1.0}
    # a win returns 20 exactly (float32 rewards summed in float64: 1e-3 is ~100x their rounding)
    np.testing.assert_array_equal(won, (rets > 20 - 1e-3).astype(float))
    rate = won.mean()
    assert 0.0 <= rate <= 1.0
    if policy == "focus_fire":  # focused fire wins some battles (measured 19 of 32 with these seeds)
        assert rate > 0.25
    print(policy, "win rate", rate)


def test_an_env_without_outcomes_reports_none():
    env = make_env("tabular", "paper-matrix", 2, seed=0)
    outcomes = {}
    evaluate(Scripted(lambda avail: [np.zeros(2, np.int64)] * len(avail)), env, 4, seed=0, outcomes=outcomes)
    assert outcomes == {} and OUTCOMES == {"won": "win_rate", "success": "success_rate"}
