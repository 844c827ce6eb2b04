"""Run configurations: layered YAML validated against typed settings.

A config has four sections: top-level run keys (:class:`RunSettings`), ``env_options`` (passed to
``deep.envs.make_env``, which rejects what the family does not know), ``algo`` (the algorithm's ``Params``,
defined beside it in :mod:`deep.algos`) and ``train`` (the loop's ``Train`` settings, in :mod:`deep.run`).
Every setting is a dataclass field made by one of :func:`integer`, :func:`number`, :func:`flag`,
:func:`choice`, :func:`sizes` or :func:`setting` (:func:`setting_like` redeclares an inherited one with
another default), holding its default and a one-line description: the one place from which validation
messages and the generated defaults files (``deep/configs/algos/<algo>.yaml``, ``python -m deep.config``)
come.

:func:`resolve` lays, each over the previous:

1. the settings' defaults, then ``deep/configs/algos/<algo>.yaml`` (the same values, rendered with comments);
2. the task's options ``deep/configs/tasks/<family>/<task>.yaml`` (copies, episode limit, run budget;
   a tabular game given as a file uses ``tasks/tabular/game.yaml``);
3. what the paper (or the reference code's tuned configs) sets for the pair,
   ``deep/configs/paper/<algo>/<family>_<task>.yaml``, if there is such a file;
4. ``seed`` and ``--set key=value`` overrides.

``config_file`` replaces layers 2 and 3.  An unknown key or a bad value raises ``ValueError`` naming it.
"""
from __future__ import annotations

import copy
import dataclasses
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import yaml

CONFIG_DIR = Path(__file__).with_name("configs")
SECTIONS = ("env_options", "algo", "train")


# -------------------------------------------------------------------- settings: one field, its text, its check
def setting(default, doc: str, valid: str | Callable[[], str], check: Callable) -> dataclasses.Field:
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


def _valid(f: dataclasses.Field) -> str:
    v = f.metadata["valid"]
    return v() if callable(v) else v


def check_settings(cls, values: dict, section: str) -> list[str]:
    """Problems of ``values`` against the settings class ``cls``, each naming ``section.key``."""
    known, errors = fields(cls), []
    prefix = f"{section}." if section else ""
    for k, v in values.items():
        if k not in known:
            errors.append(f"unknown key {prefix}{k} (valid: {', '.join(known)})")
        elif not known[k].metadata["check"](v):
            errors.append(f"bad value {prefix}{k}={v!r}: must be {_valid(known[k])}")
    return errors


def build_settings(cls, values: dict, section: str):
    """``cls(**values)`` after checking them (lists become tuples: settings are frozen)."""
    errors = check_settings(cls, values, section)
    if errors:
        raise ValueError("invalid config: " + "; ".join(errors))
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def defaults_of(cls) -> dict:
    """The defaults of a settings class as plain YAML values (tuples as lists)."""
    return {k: list(f.default) if isinstance(f.default, tuple) else copy.deepcopy(f.default)
            for k, f in fields(cls).items()}


def _families() -> str:
    from deep.envs.registry import FAMILIES
    return "one of " + ", ".join(FAMILIES)


def _is_family(v) -> bool:
    from deep.envs.registry import FAMILIES
    return isinstance(v, str) and v in FAMILIES


def _algos() -> str:
    from deep.algos.base import algo_names
    return "one of " + ", ".join(algo_names())


def _is_algo(v) -> bool:
    from deep.algos.base import algo_names
    return isinstance(v, str) and v in algo_names()


@dataclass(frozen=True)
class RunSettings:
    """The top-level keys of a config."""

    env: str = setting(None, "environment family (deep/envs/registry.py FAMILIES)", _families, _is_family)
    task: str = setting(None, "task of the family, or a tabular game file", "a task name",
                        lambda v: isinstance(v, str) and v != "")
    algo_name: str = setting("hasac", "algorithm (deep/algos)", _algos, _is_algo)
    seed: int = integer(0, "seed of every random stream (deep/run/seeding.py)", minimum=0)
    num_envs: int = integer(20, "training environment copies stepped together")
    eval_num_envs: int = integer(20, "evaluation environment copies")
    device: str = choice("cpu", "torch device of the networks", "cpu", "cuda")
    threads: int = integer(1, "torch intra-op threads")


# -------------------------------------------------------------------- algorithm and loop schemas
def algo_and_loop(algo_name: str):
    """(the algorithm class, its loop's Run class) for a registered algorithm name."""
    from deep.algos.base import algo_class
    from deep.run import loop_class
    cls = algo_class(algo_name)
    return cls, loop_class(cls)


def defaults(algo_name: str = "hasac") -> dict:
    """The settings' defaults for ``algo_name`` (env and task unset)."""
    algo_cls, loop = algo_and_loop(algo_name)
    out = defaults_of(RunSettings)
    out["algo_name"] = algo_name
    out.update(env_options={}, algo=defaults_of(algo_cls.Params), train=defaults_of(loop.Train))
    return out


def render_defaults(algo_name: str) -> str:
    """``deep/configs/algos/<algo>.yaml``: the algorithm's and its loop's defaults, one comment per field."""
    algo_cls, loop = algo_and_loop(algo_name)
    lines = [f"# {algo_name}: defaults of every algo.* field ({algo_cls.__module__}.{algo_cls.__name__}.Params)",
             f"# and of its loop's train.* fields ({loop.__module__}.{loop.__name__}.Train).",
             "# Generated by `python -m deep.config`; edit the fields' definitions, not this file."]
    for section, cls in (("algo", algo_cls.Params), ("train", loop.Train)):
        lines.append(f"{section}:")
        for k, f in fields(cls).items():
            value = defaults_of(cls)[k]
            text = yaml.safe_dump({k: value}, default_flow_style=True, width=1000).strip()[1:-1]
            lines.append(f"  {text}  # {f.metadata['doc']}")
    return "\n".join(lines) + "\n"


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


def validate(cfg: dict) -> dict:
    """Check every key and value of a full config; raise ``ValueError`` naming each problem."""
    if not isinstance(cfg, dict):
        raise ValueError(f"a config must be a mapping, got {type(cfg).__name__}")
    top = {k: v for k, v in cfg.items() if k not in SECTIONS}
    errors = [e.replace("(valid: ", f"(valid: {', '.join(SECTIONS)}, ") if e.startswith("unknown") else e
              for e in check_settings(RunSettings, top, "")]
    for req in ("env", "task"):
        if cfg.get(req) is None:
            errors.append(f"missing key {req}")
    schemas = None
    if not any(e.startswith("bad value algo_name") for e in errors):
        algo_cls, loop = algo_and_loop(cfg.get("algo_name", "hasac"))
        schemas = {"algo": algo_cls.Params, "train": loop.Train}
    for sec in SECTIONS:
        val = cfg.get(sec, {})
        if not isinstance(val, dict):
            errors.append(f"{sec}: must be a mapping, got {val!r}")
        elif sec in (schemas or {}):
            errors += check_settings(schemas[sec], val, sec)
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


def task_config_path(env: str, task: str) -> Path:
    """``deep/configs/tasks/<env>/<task>.yaml``, or a ValueError listing the shipped ones."""
    path = CONFIG_DIR / "tasks" / env / f"{task_key(env, task)}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in (CONFIG_DIR / "tasks" / env).glob("*.yaml") if p.stem != "game")
        if not known:
            raise ValueError(f"unknown env {env!r}; valid envs: {_families()[len('one of '):]}")
        raise ValueError(f"no config for env {env!r} task {task!r}; shipped {env} tasks: {', '.join(known)}")
    return path


def listed_algos() -> tuple[str, ...]:
    """The algorithms with a defaults file (``deep/configs/algos/<algo>.yaml``, one per registered algorithm):
    their names without importing torch and every algorithm, for help texts."""
    return tuple(sorted(p.stem for p in (CONFIG_DIR / "algos").glob("*.yaml")))


def paper_config_path(algo_name: str, env: str, task: str) -> Path:
    return CONFIG_DIR / "paper" / algo_name / f"{env}_{task_key(env, task)}.yaml"


def resolve(env: str, task: str, seed: int | None = None, overrides=(),
            config_file: str | os.PathLike | None = None, algo: str = "hasac") -> dict:
    """The validated config of ``algo`` on ``env``/``task``: the layers of the module docstring."""
    cfg = defaults(algo)
    algo_yaml = CONFIG_DIR / "algos" / f"{algo}.yaml"
    if algo_yaml.exists():
        cfg = merge(cfg, load_yaml(algo_yaml))
    if config_file is not None:
        cfg = merge(cfg, load_yaml(config_file))
    else:
        cfg = merge(cfg, load_yaml(task_config_path(env, task)))
        paper = paper_config_path(algo, env, task)
        if paper.exists():
            cfg = merge(cfg, load_yaml(paper))
    cfg["env"], cfg["task"], cfg["algo_name"] = env, task, algo
    if seed is not None:
        cfg["seed"] = seed
    return validate(apply_overrides(cfg, overrides))


def main(argv=None) -> int:
    """``python -m deep.config [--check]``: write (or check) ``deep/configs/algos/<algo>.yaml`` for every algorithm."""
    from deep.algos.base import algo_names
    check = "--check" in (argv if argv is not None else sys.argv[1:])
    stale = []
    for name in algo_names():
        path, text = CONFIG_DIR / "algos" / f"{name}.yaml", render_defaults(name)
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(str(path))
        if not check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    print(("stale: " if check else "wrote: ") + (", ".join(stale) or "nothing"))
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
