"""MPE (the ``mpe2`` package) as a batched environment: simple_spread_v3, simple_reference_v3 and
simple_speaker_listener_v4, with continuous (Box(0, 1)) or discrete actions.

Each copy is an unwrapped ``mpe2`` ``raw_env`` driven one joint action at a time (its own world step,
rewards and observations, without the AEC turn-taking around them, which doubles the cost).  As in the
reference code: the shared reward is the sum of the agents' rewards, the global state is ``env.state()``
(the agents' observations concatenated) and an episode is truncated after ``episode_limit`` steps
(mpe2's ``max_cycles``, 25); it terminates early only where the scenario says so (``terminate_on_success``).

Departures from the paper's MPE (PettingZoo's simple_spread_v2, simple_reference_v2 and
simple_speaker_listener_v3 through HARL) that change the numbers:

- versions: mpe2's v3/v4 tasks, the maintained successors of those; PettingZoo 1.24.3 fixed the direction of
  continuous movement, so continuous actions move agents differently from the reference's versions;
- simple_speaker_listener: the reference pads the speaker's observation (3 -> 11 entries) and its action
  space (3 -> 5) with SuperSuit so that every agent has the same sizes; here each agent keeps its true sizes,
  which changes the speaker's action dimension and so a continuous learner's target entropy.
"""
from __future__ import annotations

import copy
import importlib
import inspect
from collections import deque
from typing import Any

import numpy as np
from gymnasium.spaces import Discrete

from ._batch import LoopedEnv, check_int
from .base import EnvSpec

TASKS = ("simple_spread_v3", "simple_reference_v3", "simple_speaker_listener_v4")
# rendering and benchmark info are not part of the batch; a curriculum would need a way to advance it;
# max_cycles is offered as ``episode_limit``, the name every env of the registry uses
_NOT_OPTIONS = {"render_mode", "dynamic_rescaling", "benchmark_data", "curriculum", "max_cycles"}


def _raw_env_class(task: str):
    if task not in TASKS:
        raise ValueError(f"unknown MPE task {task!r}; valid tasks: {', '.join(TASKS)}")
    return importlib.import_module(f"mpe2.{task}").raw_env


def task_options(task: str) -> tuple[str, ...]:
    """The options this task accepts: ``episode_limit`` and ``mpe2`` constructor arguments such as
    ``continuous_actions``, ``local_ratio`` or ``N``."""
    params = inspect.signature(_raw_env_class(task)).parameters
    return ("episode_limit",) + tuple(p for p in params if p not in _NOT_OPTIONS)


def make(task: str, num_envs: int, seed: int | None = None, **options) -> "MPEEnv":
    """The registry's entry (the options are checked against the task's constructor)."""
    from .registry import check_task
    check_task("mpe", task)
    return MPEEnv(task, num_envs=num_envs, seed=seed, **options)


class MPEEnv(LoopedEnv):
    """``num_envs`` copies of the MPE ``task``; ``options`` go to the ``mpe2`` constructor."""

    def __init__(self, task: str, num_envs: int = 1, seed: int | None = None, *, episode_limit: int = 25,
                 **options: Any):
        cls = _raw_env_class(task)
        num_envs = check_int(num_envs, "num_envs")
        unknown = sorted(set(options) - set(task_options(task)))
        if unknown:
            raise ValueError(f"unknown option(s) {', '.join(unknown)} for MPE task {task}; "
                             f"valid: {', '.join(task_options(task))}")
        episode_limit = check_int(episode_limit, "episode_limit")
        try:
            self._envs = [cls(max_cycles=episode_limit, **options) for _ in range(num_envs)]
        except (AssertionError, TypeError) as exc:  # mpe2 checks its arguments with asserts
            raise ValueError(f"bad option for MPE task {task} {options}: {exc}") from None
        e = self._envs[0]
        agents = e.possible_agents
        obs_dims = tuple(e.observation_spaces[a].shape[0] for a in agents)
        spaces = tuple(e.action_spaces[a] for a in agents)
        spec = EnvSpec(name=f"mpe:{task}", n_agents=len(agents), obs_dims=obs_dims, state_dim=sum(obs_dims),
                       action_spaces=spaces, episode_limit=int(e.max_cycles))
        super().__init__(spec, num_envs, seed, [isinstance(s, Discrete) for s in spaces])
        # the global state is the concatenation of the observations: column ranges per agent
        ends = np.cumsum(obs_dims)
        self._cols = [slice(int(b - d), int(b)) for b, d in zip(ends, obs_dims)]

    def _write_obs(self, k: int) -> None:
        e = self._envs[k]
        for i, agent in enumerate(e.world.agents):
            o = e.scenario.observation(agent, e.world)
            self._obs[i][k] = o
            self._state[k, self._cols[i]] = o

    def _reset_copy(self, k: int, seed: int | None) -> None:
        self._envs[k].reset(seed=seed)
        self._write_obs(k)

    def _step_copy(self, k: int, actions: list[np.ndarray]) -> tuple[float, bool]:
        e = self._envs[k]
        e.current_actions = actions
        e._execute_world_step()
        self._write_obs(k)
        return float(sum(e.rewards.values())), bool(e.scenario.is_terminal(e.world))

    def _get_copy(self, k: int) -> dict:
        e = self._envs[k]
        return {"world": object_state({"world": e.world, "scenario": e.scenario}),
                "rng": copy.deepcopy(e.np_random.bit_generator.state)}

    def _set_copy(self, k: int, snapshot: dict) -> None:
        e = self._envs[k]
        restore_object_state({"world": e.world, "scenario": e.scenario}, snapshot["world"])
        e.np_random.bit_generator.state = copy.deepcopy(snapshot["rng"])

    def close(self) -> None:
        for e in self._envs:
            e.close()


# ---------------------------------------------------------------- plain snapshots of mpe2 worlds
def _is_mpe_object(x) -> bool:
    return type(x).__module__.startswith("mpe2.")


def _children(x, path):
    if _is_mpe_object(x):
        return [(v, path + [k]) for k, v in vars(x).items() if not callable(v)]
    if isinstance(x, (list, tuple)):
        return [(v, path + [i]) for i, v in enumerate(x)]
    if isinstance(x, dict):
        return [(v, path + [str(k)]) for k, v in x.items()]
    return []


def object_state(root: dict) -> dict:
    """The data of the ``mpe2`` objects reachable from ``root`` as plain values (numbers, strings, arrays,
    lists, dicts): each object's attributes at its shortest path from ``root`` (e.g. ``world.landmarks.2``),
    elsewhere ``{"ref": that path}`` (e.g. an agent's goal landmark); callables (scripted behaviours, fixed
    by the scenario) left out.  No pickle: a checkpoint of it loads with ``torch.load(weights_only=True)``."""
    home: dict[int, list] = {}  # breadth first: shortest paths run through the world's fixed lists
    queue = deque([(root, [])])
    while queue:
        x, path = queue.popleft()
        if _is_mpe_object(x):
            if id(x) in home:
                continue
            home[id(x)] = path
        queue.extend(_children(x, path))

    def enc(x, path):
        if x is None or isinstance(x, (bool, int, float, str)):
            return {"value": x}
        if isinstance(x, np.generic):
            return {"value": x.item()}
        if isinstance(x, np.ndarray):
            return {"array": x.copy()}
        if isinstance(x, (list, tuple)):
            return {"list": [enc(v, p) for v, p in _children(x, path)]}
        if isinstance(x, dict):
            return {"dict": {p[-1]: enc(v, p) for v, p in _children(x, path)}}
        if _is_mpe_object(x):
            if home[id(x)] != path:
                return {"ref": home[id(x)]}
            return {"object": {p[-1]: enc(v, p) for v, p in _children(x, path)}}
        raise TypeError(f"cannot snapshot a {type(x).__name__} at {'.'.join(map(str, path))}")

    return enc(root, [])


def restore_object_state(root: dict, snap: dict) -> None:
    """Write :func:`object_state`'s snapshot back into the live objects of ``root`` (the same scenario:
    mpe2 builds its entities once and only mutates them)."""
    def at(path):  # the live object at ``path`` (resolved before anything is modified)
        x = root
        for key in path:
            x = x[key] if isinstance(x, (list, tuple, dict)) else getattr(x, key)
        return x

    refs = {}

    def collect(s, path):
        if "object" in s:
            refs[tuple(path)] = at(path)
            for k, v in s["object"].items():
                collect(v, path + [k])
        for i, v in enumerate(s.get("list", ())):
            collect(v, path + [i])
        for k, v in s.get("dict", {}).items():
            collect(v, path + [k])

    def dec(s, path, live):
        if "value" in s:
            return s["value"]
        if "array" in s:
            return np.array(s["array"])
        if "ref" in s:
            return refs[tuple(s["ref"])]
        if "list" in s:
            return [dec(v, path + [i], None) for i, v in enumerate(s["list"])]
        if "dict" in s:
            return {k: dec(v, path + [k], None) for k, v in s["dict"].items()}
        obj = refs[tuple(path)]
        for k, v in s["object"].items():
            setattr(obj, k, dec(v, path + [k], None))
        return obj

    collect(snap, [])
    for k, v in snap["dict"].items():
        dec(v, [k], None)
