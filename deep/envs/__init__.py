"""Batched multi-agent environments: one interface (:mod:`deep.envs.base`), adapters for tabular games,
MPE, MAMuJoCo, SMAC (SMAX, or StarCraft II), air combat on JSBSim, bimanual Shadow Hands on MuJoCo, Google
Research Football and any PettingZoo ParallelEnv, and :func:`make_env` to build any of them by name."""
from .base import BatchedMultiAgentEnv, EnvSpec, Reset, Step
from .registry import ENVS, env_tasks, make_env

__all__ = ["BatchedMultiAgentEnv", "EnvSpec", "Reset", "Step", "ENVS", "env_tasks", "make_env"]
