"""Batched multi-agent environments: one interface (:mod:`deep.envs.base`), adapters for tabular games,
MPE, MAMuJoCo and air combat on JSBSim, and :func:`make_env` to build any of them by name."""
from .base import BatchedMultiAgentEnv, EnvSpec, Reset, Step
from .registry import ENVS, env_tasks, make_env

__all__ = ["BatchedMultiAgentEnv", "EnvSpec", "Reset", "Step", "ENVS", "env_tasks", "make_env"]
