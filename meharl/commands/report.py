"""``meharl report ROOT --out DIR``: learning curves, final tables, rliable aggregates and the paper's figures
from every run under ROOT, on one Markdown page (``DIR/index.md``) and the same page as one HTML file with its
figures embedded (``DIR/index.html``); see :mod:`meharl.report`."""
from __future__ import annotations

NAME = "report"
HELP = ("report on every run under ROOT: learning curves, final-performance tables, rliable aggregates (IQM with "
        "bootstrap CIs, performance profiles) and the paper's figures, as DIR/index.md and one self-contained "
        "DIR/index.html")


def add_arguments(p):
    p.add_argument("root", help="a folder holding run directories (searched recursively), e.g. a sweep's root")
    p.add_argument("--out", default="report", help="output folder (default: ./report)")
    p.add_argument("--reps", type=int, default=2000,
                   help="bootstrap resamples for the CIs (default 2000, rliable's for performance profiles)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default 0)")
    add_exclude(p)


def add_exclude(p):
    """``--exclude PATTERN`` (repeatable), shared with ``meharl table1``."""
    p.add_argument("--exclude", action="append", default=[], metavar="PATTERN",
                   help="leave out run directories whose path under ROOT matches this glob, e.g. 'records/*' "
                        "(repeatable); a run directory holding a file named EXCLUDE, or below a folder holding one, is "
                        "always left out")


def run(args) -> int:
    from meharl.report import build, final_table, write
    rep = build(args.root, reps=args.reps, seed=args.seed, exclude=args.exclude)
    notes = write(rep, args.out)
    for row in final_table(rep):
        print(f"{row['task']:40s} {row['algorithm']:30s} {row['metric']:8s} n={len(row['seeds'])} "
              f"mean {row['mean']:.4g} [{row['ci95'][0]:.4g}, {row['ci95'][1]:.4g}] ({row['simulator']})")
    for lab, stats in sorted(rep.aggregate.items()):
        p, lo, hi = stats["IQM"]
        print(f"IQM {lab}: {p:.3f} [{lo:.3f}, {hi:.3f}] over {len(rep.aggregate_tasks)} task(s)")
    if rep.aggregate_note:
        print(f"aggregate: {rep.aggregate_note}")
    for note in notes:
        print(note)
    print(f"wrote {args.out}/index.md and {args.out}/index.html")
    return 0
