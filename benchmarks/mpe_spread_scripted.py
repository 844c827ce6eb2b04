"""A scripted reference score for MPE simple_spread_v3 (continuous): a PD controller with an optimal assignment.

Each agent is sent to a landmark (the assignment minimising the summed squared distances at reset, by
``scipy.optimize.linear_sum_assignment``) with the force ``kp (target - position) - kd velocity``.  The gains
are tuned on 40 episodes and the score (sum over the 25 steps of the three agents' rewards, as in the
learning benchmark) is reported on 200 other episodes.

It is run twice: with actions inside the Box(0, 1), and with each entry in [-1, 1] as the public reference
code's tanh actors emit them.  mpe2 clips actions to the Box, so both give the same score: the reference
code's out-of-range actions do not make its task easier.

    python benchmarks/mpe_spread_scripted.py
"""
from __future__ import annotations

import numpy as np
from mpe2 import simple_spread_v3
from pettingzoo.utils.env_logger import EnvLogger
from scipy.optimize import linear_sum_assignment

GAINS = [(kp, kd) for kp in (1, 2, 4, 8, 16) for kd in (0.5, 1, 2, 4)]


def episode_returns(signed: bool, kp: float, kd: float, episodes: int, seed: int) -> np.ndarray:
    env = simple_spread_v3.parallel_env(continuous_actions=True, max_cycles=25)
    out = []
    for ep in range(episodes):
        obs, _ = env.reset(seed=seed + ep)
        agents = env.agents
        pos = np.array([obs[a][2:4] for a in agents])                 # obs: vel(2), pos(2), landmarks rel(6), ...
        landmarks = pos[0] + obs[agents[0]][4:10].reshape(3, 2)
        _, goal = linear_sum_assignment(((pos[:, None] - landmarks[None]) ** 2).sum(-1))
        total = 0.0
        for _ in range(25):
            actions = {}
            for k, a in enumerate(agents):
                vel, p = obs[a][0:2], obs[a][2:4]
                force = kp * (landmarks[goal[k]] - p) - kd * vel
                act = np.zeros(5, np.float32)                       # [noop, left, right, down, up]
                for d, (neg, plus) in enumerate(((1, 2), (3, 4))):
                    if signed:   # entries in [-1, 1], the difference plus - neg in [-2, 2]
                        act[plus], act[neg] = np.clip(force[d] / 2, -1, 1), np.clip(-force[d] / 2, -1, 1)
                    else:
                        act[plus], act[neg] = np.clip(force[d], 0, 1), np.clip(-force[d], 0, 1)
                actions[a] = act
            obs, rew, _, _, _ = env.step(actions)
            total += sum(rew.values())
        out.append(total)
    env.close()
    return np.asarray(out)


def main() -> int:
    EnvLogger.suppress_output()  # the signed run's clipping warnings are expected: clipping is what it shows
    for signed, label in ((False, "actions in the Box [0, 1]"), (True, "entries in [-1, 1] (reference code)")):
        kp, kd = max(GAINS, key=lambda g: episode_returns(signed, *g, episodes=40, seed=0).mean())
        r = episode_returns(signed, kp, kd, episodes=200, seed=1000)
        print(f"{label:38s} kp={kp:<3} kd={kd:<4} return {r.mean():7.2f} +- {r.std() / np.sqrt(len(r)):.2f} (200 episodes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
