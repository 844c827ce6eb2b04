"""How often each agent of a SMAX run's checkpoint takes each action under its greedy policy: 32 evaluation
copies for 70 steps from seed 123.

    PYTHONPATH=. python benchmarks/learning_runs/smax_edge/agent_actions.py RUN_DIR
"""
import collections
import sys

import numpy as np

from deep.run import resume

STEPS = 70

run = resume(sys.argv[1], truncate_logs=False)
algo, env = run.algo, run.eval_env
r = env.reset(seed=123)
counts = collections.Counter()
for _ in range(STEPS):
    acted = algo.act(r.obs, r.avail, deterministic=True)
    for agent, actions in enumerate(acted.env_actions):
        counts.update((agent, int(a)) for a in np.asarray(actions))
    r = env.step(acted.env_actions)
run.close()
for agent in sorted({a for a, _ in counts}):
    total = sum(n for (a, _), n in counts.items() if a == agent)
    shares = {act: n / total for (a, act), n in sorted(counts.items()) if a == agent}
    print(f"agent {agent}: " + "  ".join(f"{act}: {share:.0%}" for act, share in shares.items())
          + "   (0-3 move north, east, south, west; 4 stop; 5+ attack)")
