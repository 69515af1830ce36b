#!/usr/bin/env bash
# The main job on the embedded demo data: make the data, train the LSTM
# baseline with the GL+VN prior, test the best checkpoint, print the table.
# Usage: bash tools/demo.sh [extra train.py options]
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=configs/lstm_demo_glvn.py
WORK_DIR=work_dirs/lstm_demo_glvn

python tools/make_demo_data.py --out data/demo
python tools/train.py "$CONFIG" --work-dir "$WORK_DIR" --seed 0 "$@"
BEST="$WORK_DIR/best.pth"  # link to the best epoch's checkpoint
python tools/test.py "$CONFIG" "$BEST" --work-dir "$WORK_DIR/test" \
    --dump "$WORK_DIR/test/predictions.pkl" > "$WORK_DIR/test.log" 2>&1 \
    || { tail -n 30 "$WORK_DIR/test.log"; exit 1; }
echo
sed -n '/Anticipation results/,/Mean time to action/p' "$WORK_DIR/test.log"
echo
echo "Demo done. Best checkpoint: $(readlink -f "$BEST")"
echo "Per-segment scores (8 x num_actions, 2.0 s ... 0.25 s): $WORK_DIR/test/predictions.pkl"
