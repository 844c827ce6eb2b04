#!/bin/bash
# issue 17's wall-clock target on the quiet machine: HASAC bf16 on MPE Spread, 3 seeds, one at a time, 2 threads,
# exactly precision_learning's bf16 arm (same command line)
cd /work/main
for s in 0 1 2; do
  python -m meharl train --algo hasac --env mpe --task simple_spread_v3 --seed $s --run-dir /work/runs/precision_quiet/bf16/seed$s \
    --overwrite --set train.total_steps=200000 train.eval_interval=10000 train.progress=false env_options.continuous_actions=true \
    threads=2 algo.precision=bf16 > /dev/null 2>&1
  echo "$(date +%T) seed $s: $(tail -1 /work/runs/precision_quiet/bf16/seed$s/eval.csv | cut -d, -f1,2,8)"
done
