#!/usr/bin/env bash
# The main job on the embedded demo data: make the data, train the LSTM
# baseline with the GL+VN prior, test the best checkpoint, print the table.
# Usage: bash tools/demo.sh [extra train.py options]
# data/demo and work_dirs/ are written under the repository root, or under
# DEMO_DIR when it is set (the test that checks the README's table uses it).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python}"
cd "${DEMO_DIR:-$ROOT}"
CONFIG="$ROOT/configs/lstm_demo_glvn.py"
WORK_DIR=work_dirs/lstm_demo_glvn

"$PYTHON" "$ROOT/tools/make_demo_data.py" --out data/demo
"$PYTHON" "$ROOT/tools/train.py" "$CONFIG" --work-dir "$WORK_DIR" --seed 0 "$@"
BEST="$WORK_DIR/best.pth"  # link to the best epoch's checkpoint
"$PYTHON" "$ROOT/tools/test.py" "$CONFIG" "$BEST" --work-dir "$WORK_DIR/test" \
    --dump "$WORK_DIR/test/predictions.pkl" > "$WORK_DIR/test.log" 2>&1 \
    || { tail -n 30 "$WORK_DIR/test.log"; exit 1; }
# the table of the test run (the README's demo table is this file)
sed -n '/Anticipation results/,/Mean time to action/p' "$WORK_DIR/test.log" \
    | sed 's/^.*Anticipation results/Anticipation results/' \
    > "$WORK_DIR/test/results.md"
echo
cat "$WORK_DIR/test/results.md"
echo
echo "Demo done. Best checkpoint: $(readlink -f "$BEST")"
echo "Per-segment scores (8 x num_actions, 2.0 s ... 0.25 s): $PWD/$WORK_DIR/test/predictions.pkl"
echo "Table: $PWD/$WORK_DIR/test/results.md"
