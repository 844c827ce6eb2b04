#!/usr/bin/env bash
# Redraws every figure in this folder from the logs kept here (no training: the comparison scripts reuse the
# finished runs), with the project's figure style. Run from anywhere: bash benchmarks/learning_runs/redraw.sh
set -euo pipefail
cd "$(dirname "$0")"
plot() { python -m meharl plot "$@" >/dev/null; }
AIR=("random commands (8 episodes)=12.58" "hold course=-2.64")
plot air_noweapon_hasac --metric episode_return --baseline "${AIR[0]}" --baseline "${AIR[1]}" \
  --title "HASAC on air combat 2v2 NoWeapon: training episode return" --out aircombat_noweapon_return.png
plot air_noweapon_hasac --metric eval_return --baseline "${AIR[0]}" --baseline "${AIR[1]}" \
  --title "HASAC on air combat 2v2 NoWeapon: greedy evaluation return" --out aircombat_noweapon_eval_return.png
plot bim_hand_over_hasac --metric eval_success_rate --baseline "random policy (80 episodes)=0" \
  --title "HASAC on bimanual hand_over: evaluation success rate (40 episodes, greedy)" --out bimanual_hand_over_success.png
plot bim_hand_over_hasac --metric eval_return --baseline "random policy (80 episodes)=2.995" \
  --title "HASAC on bimanual hand_over: evaluation return (40 episodes, greedy)" --out bimanual_hand_over_return.png
GRF=(grf_rps_hasac grf_rps_hasac_alpha1e-3 grf_rps_hasac_te0.1)
plot "${GRF[@]}" --metric eval_return --baseline random=0.118 \
  --title "GRF RPS, HASAC: greedy return (scoring + checkpoints)" --out football_rps_return.png
plot "${GRF[@]}" --metric eval_win_rate --baseline random=0 \
  --title "GRF RPS, HASAC: greedy score rate (40 episodes per evaluation)" --out football_rps_score_rate.png
for map in 3m 2s3z; do
  plot smac/$map/*/seed* --metric eval_win_rate --title "SMAX $map: greedy win rate (32 episodes)" \
    --out smac/smac_${map}_win_rate.png
  plot smac/$map/*/seed* --metric wall_time --title "SMAX $map: wall time (s)" --out smac/smac_${map}_wall_time.png
done
python -m meharl table1 smac/3m smac/2s3z --out smac/table1 >/dev/null
cd ../..
python benchmarks/compare_offpolicy.py --out benchmarks/learning_runs/compare --seeds 3 --steps 400000 --reuse >/dev/null
python -m benchmarks.precision_learning --out benchmarks/learning_runs/precision --seeds 3 --steps 200000 200000 \
  --reuse >/dev/null
echo "redrew the figures in benchmarks/learning_runs"
