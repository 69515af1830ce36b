#!/usr/bin/env bash
# The paper's LSTM rows on the demo data: every prior x 3 seeds, then the
# summary table and plot (work_dirs/demo_grid/summary.{md,csv,png}).
# Usage: bash tools/run_demo_grid.sh [epochs]   (default: the configs' 10)
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${1:-}
OUT=work_dirs/demo_grid
[ -d data/demo ] || python tools/make_demo_data.py --out data/demo
rows=()
for prior in onehot uniform te vn gl glvn; do
  cfg=configs/lstm_demo_${prior}.py
  for seed in 0 1 2; do
    dir=$OUT/lstm_demo_${prior}/seed${seed}
    opts=()
    [ -n "$EPOCHS" ] && opts=(--cfg-options train_cfg.max_epochs="$EPOCHS")
    mkdir -p "$dir"
    python tools/train.py "$cfg" --work-dir "$dir" --seed "$seed" "${opts[@]}" \
        > "$dir/train.out" 2>&1 || { echo "training failed, see $dir/train.out"; exit 1; }
    python tools/test.py "$cfg" "$dir/best.pth" --work-dir "$dir/test" \
        > "$dir/test.out" 2>&1 || { echo "testing failed, see $dir/test.out"; exit 1; }
    echo "done: $prior seed $seed"
  done
  rows+=("$prior=$OUT/lstm_demo_${prior}")
done
python tools/summarize_results.py "${rows[@]}" --baseline onehot \
    --title 'LSTM baseline on the demo data (3 seeds)' --out "$OUT/summary"
