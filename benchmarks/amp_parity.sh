#!/usr/bin/env bash
# Accuracy parity of --amp: the demo LSTM (configs/lstm_demo_onehot.py) with
# one-hot and GL+VN (alpha 0.5) targets, several seeds each, trained in
# float32 and with --amp through tools/sweep.py (tests in float32), then one
# table of both (tools/summarize_results.py: mean ± std over the seeds at each
# anticipation time, with run counts) in $OUT/parity.{md,csv,png}.
# Usage: bash benchmarks/amp_parity.sh [options for the --amp sweep only,
#        e.g. --cfg-options optim_wrapper.dtype=bfloat16 for CUDA bf16]
# env: OUT=work_dirs/amp_parity PYTHON=python JOBS=1 SEEDS="0 1 2"
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
OUT=${OUT:-work_dirs/amp_parity}
JOBS=${JOBS:-1}
read -r -a SEEDS <<< "${SEEDS:-0 1 2}"
CONFIG=configs/lstm_demo_onehot.py
[ -f data/demo/training.csv ] || "$PYTHON" tools/make_demo_data.py --out data/demo
common=(--priors onehot glvn --alphas 0.5 --seeds "${SEEDS[@]}" --jobs "$JOBS")
"$PYTHON" tools/sweep.py "$CONFIG" "${common[@]}" --work-dir "$OUT/fp32"
"$PYTHON" tools/sweep.py "$CONFIG" "${common[@]}" --work-dir "$OUT/amp" --amp "$@"
"$PYTHON" tools/summarize_results.py \
    "onehot float32=$OUT/fp32/prior-onehot" "onehot --amp=$OUT/amp/prior-onehot" \
    "glvn float32=$OUT/fp32/prior-glvn_alpha-0.5" \
    "glvn --amp=$OUT/amp/prior-glvn_alpha-0.5" \
    --metric action_top5 --expect-runs "${#SEEDS[@]}" --out "$OUT/parity" \
    --title "--amp against float32 (demo LSTM)"
