"""``meharl tasks [FAMILY]``: the task names of each environment family (``--task`` of ``meharl train``)."""
from __future__ import annotations

NAME = "tasks"
HELP = "list the tasks of every environment family, or those of FAMILY one a line"


def add_arguments(p):
    from deep.envs.registry import family_list
    p.add_argument("family", nargs="?", default=None, metavar="FAMILY",
                   help=f"an environment family: {family_list()} (default: all)")


def run(args) -> int:
    from deep.envs.registry import ALIASES, ENVS, env_tasks
    if args.family is not None:
        try:
            print("\n".join(env_tasks(args.family)))
        except ImportError as exc:
            raise ValueError(f"env {args.family} needs its simulator, which is not installed ({exc})") from None
        return 0
    for env in ENVS:
        if env in ALIASES:
            print(f"{env}: alias of {ALIASES[env]}")
            continue
        try:
            print(f"{env}: {', '.join(env_tasks(env))}")
        except ImportError as exc:
            print(f"{env}: (its simulator is not installed: {exc})")
    return 0
