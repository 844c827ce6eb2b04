"""Run configurations: layered YAML validated against typed settings.

A config has four sections: top-level run keys (:class:`RunSettings`), ``env_options`` (passed to
``deep.envs.make_env``, which rejects what the family does not know), ``algo`` (the algorithm's ``Params``,
defined beside it in :mod:`deep.algos`) and ``train`` (the loop's ``Train`` settings, in :mod:`deep.run`).
Every setting is a dataclass field made by one of :func:`integer`, :func:`number`, :func:`flag`,
:func:`choice`, :func:`sizes` or :func:`setting` (:func:`setting_like` redeclares an inherited one with
another default), holding its default and a one-line description: the one place from which validation
messages and the generated defaults files (``deep/configs/algos/<algo>.yaml``, ``python -m deep.configure``)
come.

:func:`layered` lays, each over the previous (:func:`deep.configure.resolve` then checks the result):

1. the settings' defaults, then ``deep/configs/algos/<algo>.yaml`` (the same values, rendered with comments);
2. the task's options ``deep/configs/tasks/<family>/<task>.yaml`` (copies, episode limit, run budget;
   a tabular game given as a file uses ``tasks/tabular/game.yaml``);
3. what the paper (or the reference code's tuned configs) sets for the pair,
   ``deep/configs/paper/<algo>/<family>_<task>.yaml``, if there is such a file;
4. ``seed`` and ``--set key=value`` overrides.

``config_file`` replaces layers 2 and 3.  An unknown key or a bad value raises ``ValueError`` naming it.

This module knows how settings are declared, layered and checked, but not which algorithms, loops and
environment families exist: it imports no registry.  :mod:`deep.configure` asks the registries and passes
their names and settings classes in (:class:`Schemas`).
"""
from __future__ import annotations

import copy
import dataclasses
import math
import os
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Callable, Mapping, Sequence

import yaml

CONFIG_DIR = Path(__file__).with_name("configs")
SECTIONS = ("env_options", "algo", "train")


# -------------------------------------------------------------------- settings: one field, its text, its check
def setting(default, doc: str, valid: str, check: Callable) -> dataclasses.Field:
    """A setting: ``default``, a one-line ``doc``, the description of ``valid`` values and their ``check``."""
    return dataclasses.field(default=default, metadata={"doc": doc, "valid": valid, "check": check})


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def integer(default: int, doc: str, minimum: int = 1) -> dataclasses.Field:
    return setting(default, doc, f"an integer >= {minimum}", lambda v: _is_int(v) and v >= minimum)


def number(default: float, doc: str, lo=None, hi=None, lo_open=False, hi_open=False,
           allow_none: str | None = None) -> dataclasses.Field:
    """A finite real number in the interval given (``allow_none``: also null, with this meaning)."""
    def ok(v):
        if v is None:
            return allow_none is not None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return False
        if lo is not None and (v < lo or (lo_open and v == lo)):
            return False
        return hi is None or v < hi or (not hi_open and v == hi)
    if lo is not None and hi is not None:
        valid = f"a number in {'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"
    elif lo is not None:
        valid = f"a number {'>' if lo_open else '>='} {lo}"
    else:
        valid = "a number"
    if allow_none:
        valid += f", or null {allow_none}"
    return setting(default, doc, valid, ok)


def flag(default: bool, doc: str) -> dataclasses.Field:
    return setting(default, doc, "true or false", lambda v: isinstance(v, bool))


def choice(default, doc: str, *options) -> dataclasses.Field:
    return setting(default, doc, " or ".join(map(str, options)), lambda v: v in options)


def sizes(default: tuple, doc: str) -> dataclasses.Field:
    """A non-empty list of positive integers (layer sizes); stored as a tuple."""
    return setting(tuple(default), doc, "a non-empty list of positive integers",
                   lambda v: isinstance(v, (list, tuple)) and len(v) > 0 and all(_is_int(h) and h > 0 for h in v))


def setting_like(cls, name: str, default=dataclasses.MISSING) -> dataclasses.Field:
    """Setting ``name`` of the settings class ``cls`` (its description and check), with another ``default``
    if one is given: a subclass redeclares an inherited field this way to change only its default, another
    settings class takes over a field."""
    f = fields(cls)[name]
    return dataclasses.field(default=f.default if default is dataclasses.MISSING else default, metadata=f.metadata)


def fields(cls) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls)}


def check_settings(cls, values: Mapping, section: str,
                   names: Mapping[str, Sequence[str]] | None = None) -> list[str]:
    """Problems of ``values`` against the settings class ``cls``, each naming ``section.key``; a key of
    ``names`` must also be one of the names it maps to (e.g. the registered algorithms)."""
    known, errors = fields(cls), []
    prefix = f"{section}." if section else ""
    for k, v in values.items():
        allowed = (names or {}).get(k)
        if k not in known:
            errors.append(f"unknown key {prefix}{k} (valid: {', '.join(known)})")
        elif not known[k].metadata["check"](v) or (allowed is not None and v not in allowed):
            valid = known[k].metadata["valid"] if allowed is None else "one of " + ", ".join(allowed)
            errors.append(f"bad value {prefix}{k}={v!r}: must be {valid}")
    return errors


def make_settings(cls, values: Mapping):
    """``cls(**values)`` of values already checked (lists become tuples: settings are frozen)."""
    return cls(**{k: tuple(v) if isinstance(v, (list, tuple)) else v for k, v in values.items()})


def build_settings(cls, values: Mapping, section: str):
    """``cls(**values)`` after checking them (:func:`check_settings`, :func:`make_settings`)."""
    errors = check_settings(cls, values, section)
    if errors:
        raise ValueError("invalid config: " + "; ".join(errors))
    return make_settings(cls, values)


def defaults_of(cls) -> dict:
    """The defaults of a settings class as plain YAML values (tuples as lists)."""
    return {k: list(f.default) if isinstance(f.default, tuple) else copy.deepcopy(f.default)
            for k, f in fields(cls).items()}


def _is_name(v) -> bool:
    return isinstance(v, str) and v != ""


@dataclass(frozen=True)
class RunSettings:
    """The top-level keys of a config (``env`` and ``algo_name`` are also checked against the registries'
    names, :attr:`Schemas.names`)."""

    env: str = setting(None, "environment family (deep/envs/registry.py FAMILIES)", "a registered family", _is_name)
    task: str = setting(None, "task of the family, or a tabular game file", "a task name", _is_name)
    algo_name: str = setting("hasac", "algorithm (deep/algos)", "a registered algorithm", _is_name)
    seed: int = integer(0, "seed of every random stream (deep/run/seeding.py)", minimum=0)
    num_envs: int = integer(20, "training environment copies stepped together")
    eval_num_envs: int = integer(20, "evaluation environment copies")
    device: str = choice("cpu", "torch device of the networks", "cpu", "cuda")
    threads: int = integer(1, "torch intra-op threads")


# -------------------------------------------------------------------- what the registries provide
@dataclass(frozen=True)
class Schemas:
    """What checking a config needs from the registries (:mod:`deep.configure` builds it)."""

    #: top-level key -> the registered names it may take (``env``: the families, ``algo_name``: the algorithms)
    names: Mapping[str, Sequence[str]]
    #: a registered algorithm's name -> ``{"algo": its Params, "train": its loop's Train}``
    sections: Callable[[str], Mapping[str, type]]


def defaults(algo_name: str, sections: Mapping[str, type]) -> dict:
    """The settings' defaults for ``algo_name`` whose ``algo`` and ``train`` settings classes are
    ``sections`` (env and task unset)."""
    out = defaults_of(RunSettings)
    out["algo_name"] = algo_name
    out.update(env_options={}, algo=defaults_of(sections["algo"]), train=defaults_of(sections["train"]))
    return out


# -------------------------------------------------------------------- layering
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


def validate(cfg: dict, schemas: Schemas) -> dict:
    """Check every key and value of a full config against ``schemas``; raise ``ValueError`` naming each
    problem.  Returns ``cfg`` itself, unchanged."""
    if not isinstance(cfg, dict):
        raise ValueError(f"a config must be a mapping, got {type(cfg).__name__}")
    top = {k: v for k, v in cfg.items() if k not in SECTIONS}
    errors = [e.replace("(valid: ", f"(valid: {', '.join(SECTIONS)}, ") if e.startswith("unknown") else e
              for e in check_settings(RunSettings, top, "", schemas.names)]
    for req in ("env", "task"):
        if cfg.get(req) is None:
            errors.append(f"missing key {req}")
    sections = None
    if not any(e.startswith("bad value algo_name") for e in errors):
        sections = schemas.sections(cfg.get("algo_name", "hasac"))
    for sec in SECTIONS:
        val = cfg.get(sec, {})
        if not isinstance(val, dict):
            errors.append(f"{sec}: must be a mapping, got {val!r}")
        elif sec in (sections or {}):
            errors += check_settings(sections[sec], val, sec)
    if errors:
        raise ValueError("invalid config: " + "; ".join(errors))
    return cfg


def with_game_discount(cfg: Mapping, game) -> MappingProxyType:
    """The frozen config (:func:`freeze`) of a run of checked ``cfg`` on an environment whose tabular game is
    ``game`` (None for any other environment): ``algo.gamma: null`` takes the game's own discount, and a
    tabular run must use the game's discount (a ValueError otherwise).  ``cfg`` is not changed.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> cfg = {"seed": 0, "algo": {"gamma": None}}
    >>> run_cfg = with_game_discount(cfg, SimpleNamespace(gamma=0.5))
    >>> run_cfg["algo"]["gamma"], cfg["algo"]["gamma"]
    (0.5, None)
    """
    algo = dict(cfg["algo"])
    if "gamma" in algo:
        g = algo["gamma"]
        if g is None:
            if game is None:
                raise ValueError("algo.gamma=null is only allowed for tabular games (it takes the game's discount)")
            algo["gamma"] = float(game.gamma)
        elif game is not None and not math.isclose(g, game.gamma, abs_tol=1e-12):
            raise ValueError(f"algo.gamma={g} differs from the tabular game's discount {game.gamma}; the deep "
                             f"objective would not be the engine's (use algo.gamma=null)")
    return freeze({**cfg, "algo": algo})


def freeze(cfg):
    """A read-only deep copy of a config: mappings as ``MappingProxyType``, lists as tuples."""
    if isinstance(cfg, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in cfg.items()})
    if isinstance(cfg, (list, tuple)):
        return tuple(freeze(v) for v in cfg)
    return cfg


def thaw(cfg):
    """Inverse of :func:`freeze`: plain dicts and lists (what ``yaml.safe_dump`` writes)."""
    if isinstance(cfg, Mapping):
        return {k: thaw(v) for k, v in cfg.items()}
    if isinstance(cfg, (list, tuple)):
        return [thaw(v) for v in cfg]
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


def load_yaml(path, what: str = "a config file") -> dict:
    """The mapping the YAML file ``path`` holds (empty: ``{}``); a ValueError naming the file if it is not
    UTF-8 YAML holding a mapping (``what`` names the kind of file in the message)."""
    from safeio import parse_file
    data = parse_file(path, yaml.safe_load, yaml.YAMLError, "YAML")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: {what} must hold a mapping, not a {type(data).__name__}")
    return data


GAME_FILE_SUFFIXES = (".json", ".nfg")


def is_game_file(task: str) -> bool:
    """Whether ``task`` names a tabular game file by its suffix (in any case: ``GAME.JSON`` is one)."""
    return task.lower().endswith(GAME_FILE_SUFFIXES)


def task_key(env: str, task: str) -> str:
    """The name of ``task``'s config files: the task itself, ``game`` for a tabular game file, or
    ``parallel_env`` for any PettingZoo environment (its task is an import path)."""
    if env == "pettingzoo":
        return "parallel_env"
    return "game" if env == "tabular" and is_game_file(task) else task


def task_config_path(env: str, task: str, families: Sequence[str] = (), folder: str | None = None) -> Path:
    """``deep/configs/tasks/<folder>/<task>.yaml`` (``folder``: the name ``env``'s config files keep, by
    default ``env``), or a ValueError listing the shipped ones (or, for a family that ships none, the
    ``families`` there are)."""
    folder = CONFIG_DIR / "tasks" / (folder or env)
    path = folder / f"{task_key(env, task)}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in folder.glob("*.yaml") if p.stem != "game")
        if not known:
            raise ValueError(f"unknown env {env!r}; valid envs: {', '.join(families)}")
        raise ValueError(f"no config for env {env!r} task {task!r}; shipped {env} tasks: {', '.join(known)}")
    return path


def listed_algos() -> tuple[str, ...]:
    """The algorithms with a defaults file (``deep/configs/algos/<algo>.yaml``, one per registered algorithm):
    their names without importing torch and every algorithm, for help texts."""
    return tuple(sorted(p.stem for p in (CONFIG_DIR / "algos").glob("*.yaml")))


def paper_config_path(algo_name: str, env: str, task: str, folder: str | None = None) -> Path:
    """``deep/configs/paper/<algo>/<folder>_<task>.yaml`` (``folder`` as in :func:`task_config_path`)."""
    return CONFIG_DIR / "paper" / algo_name / f"{folder or env}_{task_key(env, task)}.yaml"


def layered(base: dict, env: str, task: str, seed: int | None = None, overrides=(),
            config_file: str | os.PathLike | None = None, families: Sequence[str] = (),
            folder: str | None = None) -> dict:
    """The config of ``base["algo_name"]`` on ``env``/``task``, unchecked: ``base`` (the settings' defaults)
    and the layers of the module docstring laid over it (``families``: named if ``env`` ships no tasks;
    ``folder``: the name ``env``'s config files keep, by default ``env``)."""
    algo = base["algo_name"]
    cfg = base
    algo_yaml = CONFIG_DIR / "algos" / f"{algo}.yaml"
    if algo_yaml.exists():
        cfg = merge(cfg, load_yaml(algo_yaml))
    if config_file is not None:
        cfg = merge(cfg, load_yaml(config_file))
    else:
        cfg = merge(cfg, load_yaml(task_config_path(env, task, families, folder)))
        paper = paper_config_path(algo, env, task, folder)
        if paper.exists():
            cfg = merge(cfg, load_yaml(paper))
    cfg["env"], cfg["task"], cfg["algo_name"] = env, task, algo
    if seed is not None:
        cfg["seed"] = seed
    return apply_overrides(cfg, overrides)
