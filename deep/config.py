"""Run configurations: one YAML per paper task in ``deep/configs/``, overridable with ``key=value`` strings.

A config has four sections: top-level run keys (``env``, ``task``, ``seed``, ...), ``env_options`` (passed
to ``deep.envs.registry.make_env``, which rejects what the adapter does not know), ``algo`` (the fields of
:class:`deep.hasac.HASACParams`) and ``train`` (the run loop).  Every key is checked against :data:`SCHEMA`:
an unknown key or a bad value raises ``ValueError`` naming it.  ``resolve`` returns the full, validated config
that is saved in the run directory.
"""
from __future__ import annotations

import copy
import os
from pathlib import Path

import yaml

CONFIG_DIR = Path(__file__).with_name("configs")


def _pos_int(v):
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


def _nonneg_int(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _num(lo=None, hi=None, lo_open=False, hi_open=False):
    def ok(v):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:
            return False
        if lo is not None and (v < lo or (lo_open and v == lo)):
            return False
        return hi is None or (v < hi or (not hi_open and v == hi))
    return ok


def _choice(*opts):
    return lambda v: v in opts


def _hidden(v):
    return isinstance(v, list) and len(v) > 0 and all(_pos_int(h) for h in v)


#: section -> key -> (validator, description of valid values, default)
SCHEMA = {
    "": {
        "env": (_choice("tabular", "mpe", "mamujoco"), "one of tabular, mpe, mamujoco", None),
        "task": (lambda v: isinstance(v, str) and v != "", "a task name", None),
        "algo_name": (_choice("hasac"), "hasac", "hasac"),
        "seed": (_nonneg_int, "an integer >= 0", 0),
        "num_envs": (_pos_int, "an integer >= 1", 20),
        "eval_num_envs": (_pos_int, "an integer >= 1", 20),
        "device": (_choice("cpu", "cuda"), "cpu or cuda", "cpu"),
        "threads": (_pos_int, "an integer >= 1", 1),
    },
    "env_options": {},  # free-form: validated by make_env
    "algo": {
        "hidden": (_hidden, "a non-empty list of positive integers", [256, 256]),
        "actor_lr": (_num(0, None, True), "a number > 0", 5e-4),
        "critic_lr": (_num(0, None, True), "a number > 0", 5e-4),
        "alpha_lr": (_num(0, None, True), "a number > 0", 3e-4),
        "gamma": (lambda v: v is None or _num(0, 1, False, True)(v),
                  "a number in [0, 1), or null for a tabular game's own discount", 0.99),
        "n_step": (_pos_int, "an integer >= 1", 1),
        "polyak": (_num(0, 1, True), "a number in (0, 1]", 0.005),
        "batch_size": (_pos_int, "an integer >= 1", 1000),
        "auto_alpha": (lambda v: isinstance(v, bool), "true or false", True),
        "alpha": (_num(0, None, True), "a number > 0", 1.0),
        "target_entropy_fraction": (_num(0, 1), "a number in [0, 1]", 0.98),
        "share_params": (lambda v: isinstance(v, bool), "true or false", False),
        "gumbel_tau": (_num(0, None, True), "a number > 0", 1.0),
        "discrete_actor_loss": (_choice("expected", "gumbel"), "expected or gumbel", "expected"),
        "critic_loss": (_choice("mse", "huber"), "mse or huber", "mse"),
        "huber_delta": (_num(0, None, True), "a number > 0", 10.0),
    },
    "train": {
        "total_steps": (_pos_int, "an integer >= 1 (environment steps)", 10_000_000),
        "warmup_steps": (_nonneg_int, "an integer >= 0 (environment steps of random actions)", 10_000),
        "train_interval": (_pos_int, "an integer >= 1 (vector steps between training phases)", 50),
        "updates_per_train": (_pos_int, "an integer >= 1 (gradient updates per training phase)", 50),
        "buffer_size": (_pos_int, "an integer >= 1 (transitions)", 1_000_000),
        "eval_interval": (_nonneg_int, "an integer >= 0 (environment steps; 0 disables)", 200_000),
        "eval_episodes": (_pos_int, "an integer >= 1", 40),
        "log_interval": (_pos_int, "an integer >= 1 (environment steps)", 10_000),
        "checkpoint_interval": (_nonneg_int, "an integer >= 0 (environment steps; 0: only at the end)", 200_000),
        "progress": (lambda v: isinstance(v, bool), "true or false", True),
        "tensorboard": (lambda v: isinstance(v, bool), "true or false", True),
    },
}
SECTIONS = ("env_options", "algo", "train")


def defaults() -> dict:
    out = {k: copy.deepcopy(spec[2]) for k, spec in SCHEMA[""].items()}
    for sec in SECTIONS:
        out[sec] = {k: copy.deepcopy(spec[2]) for k, spec in SCHEMA[sec].items()}
    return out


def _coerce(value):
    """Parse a ``--set`` value as YAML (``3`` -> int, ``1e-3`` -> float, ``[64, 64]`` -> list, ...)."""
    if not isinstance(value, str):
        return value
    v = yaml.safe_load(value)
    if isinstance(v, str):  # YAML 1.1 reads 1e-3 as a string; accept it as a number
        try:
            return float(v)
        except ValueError:
            return v
    return v


def validate(cfg: dict) -> dict:
    """Check every key and value of a full config; raise ``ValueError`` naming each problem."""
    if not isinstance(cfg, dict):
        raise ValueError(f"a config must be a mapping, got {type(cfg).__name__}")
    errors = []
    for key, val in cfg.items():
        if key in SECTIONS:
            if not isinstance(val, dict):
                errors.append(f"{key}: must be a mapping, got {val!r}")
                continue
            if key == "env_options":
                continue
            for k, v in val.items():
                if k not in SCHEMA[key]:
                    errors.append(f"unknown key {key}.{k} (valid: {', '.join(SCHEMA[key])})")
                elif not SCHEMA[key][k][0](v):
                    errors.append(f"bad value {key}.{k}={v!r}: must be {SCHEMA[key][k][1]}")
        elif key not in SCHEMA[""]:
            errors.append(f"unknown key {key} (valid: {', '.join([*SCHEMA[''], *SECTIONS])})")
        elif not SCHEMA[""][key][0](val):
            errors.append(f"bad value {key}={val!r}: must be {SCHEMA[''][key][1]}")
    for req in ("env", "task"):
        if cfg.get(req) is None:
            errors.append(f"missing key {req}")
    if errors:
        raise ValueError("invalid config: " + "; ".join(errors))
    return cfg


def merge(base: dict, update: dict) -> dict:
    """``base`` with ``update`` laid over it (sections merged key by key)."""
    out = copy.deepcopy(base)
    for k, v in (update or {}).items():
        if k in SECTIONS and isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k].update(copy.deepcopy(v))
        else:
            out[k] = copy.deepcopy(v)
    return out


def apply_overrides(cfg: dict, overrides) -> dict:
    """Apply ``["algo.n_step=5", "seed=3", ...]``; keys are checked by :func:`validate` afterwards."""
    out = copy.deepcopy(cfg)
    for item in overrides or ():
        if "=" not in item:
            raise ValueError(f"--set needs key=value, got {item!r}")
        key, raw = item.split("=", 1)
        parts = key.strip().split(".")
        if len(parts) == 1:
            out[parts[0]] = _coerce(raw)
        elif len(parts) == 2 and parts[0] in SECTIONS:
            out.setdefault(parts[0], {})[parts[1]] = _coerce(raw)
        else:
            raise ValueError(f"unknown key {key!r} in --set (sections: {', '.join(SECTIONS)})")
    return out


def load_yaml(path) -> dict:
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a config file must hold a mapping")
    return data


def config_path(env: str, task: str) -> Path:
    """The shipped YAML for ``(env, task)``; tabular games given as a JSON path use ``tabular_game.yaml``."""
    if env == "tabular" and task.endswith(".json"):
        return CONFIG_DIR / "tabular_game.yaml"
    path = CONFIG_DIR / f"{env}_{task.replace('-', '_')}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
        raise ValueError(f"no config for env {env!r} task {task!r}; shipped configs: {', '.join(known)}")
    return path


def resolve(env: str, task: str, seed: int | None = None, overrides=(), config_file: str | os.PathLike | None = None):
    """Defaults <- the task's YAML (or ``config_file``) <- ``seed`` <- ``overrides``; validated."""
    cfg = merge(defaults(), load_yaml(config_file or config_path(env, task)))
    cfg["env"], cfg["task"] = env, task
    if seed is not None:
        cfg["seed"] = seed
    return validate(apply_overrides(cfg, overrides))
