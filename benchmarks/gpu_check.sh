#!/usr/bin/env bash
# One-command GPU check (about 5 minutes on one GPU before step 5 was added;
# see BENCHMARKS.md):
#  1. heads against the sequential RU-LSTM oracle on CUDA (fp32 and bf16
#     autocast correctness; training throughput of the LSTM, RU-LSTM and
#     fusion heads at EK55 size, fp32 and bf16): benchmarks/gpu_check.py
#  2. a 2-epoch demo training with --amp through tools/train.py
#  3. a 2-process tools/dist_train.sh (nccl) when two GPUs exist
#  4. --amp accuracy parity with CUDA bf16 (benchmarks/amp_parity.sh: the
#     demo LSTM, one-hot and GL+VN, 3 seeds, float32 against --amp; table in
#     $OUT/amp_parity/parity.md); PARITY=0 skips it
#  5. training and eval throughput of AVTHead and AFFTHead against the
#     RU-LSTM fusion at EK100 size, fp32 and bf16 autocast, with peak memory
#     (benchmarks/bench_transformer_heads.py; table in
#     $OUT/transformer_heads.md); TRANSFORMERS=0 skips it
# The table goes to stdout and to $OUT/gpu_check.md; logs to $OUT.
# Usage: bash benchmarks/gpu_check.sh   (env: OUT=work_dirs/gpu_check,
# PYTHON=python; tools/dist_train.sh runs the python on PATH)
# Exits 2 with a message when no CUDA device is present, 1 when a check
# fails.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
OUT=${OUT:-work_dirs/gpu_check}
CONFIG=configs/lstm_demo_glvn.py
mkdir -p "$OUT"
TABLE="$OUT/gpu_check.md"

GPUS=$("$PYTHON" -c 'import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)' 2>/dev/null)
if [ -z "$GPUS" ] || [ "$GPUS" -lt 1 ]; then
    echo "gpu_check: no CUDA device is available to $PYTHON (torch:" \
         "$("$PYTHON" -c 'import torch; print(torch.__version__, "CUDA build:", torch.version.cuda)' 2>&1 | tail -1));" \
         "run it on a GPU machine with a CUDA build of torch" >&2
    exit 2
fi
export CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-$(seq -s, 0 $((GPUS - 1)))}
status=0

# 1. correctness and throughput of the heads (writes the first table)
"$PYTHON" benchmarks/gpu_check.py --device cuda --out "$TABLE" || status=1

row() {  # append one row to the run table, on stdout and in the file
    echo "$1" | tee -a "$TABLE"
}
run() {  # run NAME LOG COMMAND...: a table row with the result and seconds
    local name=$1 log=$2
    shift 2
    local start=$SECONDS
    if "$@" > "$log" 2>&1; then
        row "| $name | PASS | $((SECONDS - start)) | $log |"
    else
        row "| $name | FAIL (exit $?) | $((SECONDS - start)) | $log |"
        tail -n 20 "$log" >&2
        status=1
    fi
}

row ""
row "| run | result | seconds | log |"
row "|---|---|---|---|"
if [ ! -f data/demo/training.csv ]; then
    run "demo data (tools/make_demo_data.py)" "$OUT/make_demo_data.log" \
        "$PYTHON" tools/make_demo_data.py --out data/demo
fi
# 2. mixed precision training, one GPU
CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES%%,*} \
run "2-epoch demo training, --amp, 1 GPU ($CONFIG)" "$OUT/train_amp.log" \
    "$PYTHON" tools/train.py "$CONFIG" --amp --seed 0 \
    --work-dir "$OUT/train_amp" --cfg-options train_cfg.max_epochs=2
# 3. two processes with nccl
if [ "$GPUS" -ge 2 ]; then
    run "2-epoch demo training, tools/dist_train.sh, 2 GPUs (nccl)" \
        "$OUT/dist_train.log" \
        bash tools/dist_train.sh "$CONFIG" 2 --seed 0 \
        --work-dir "$OUT/dist_train" --cfg-options train_cfg.max_epochs=2
    grep -q "nccl" "$OUT/dist_train.log" \
        || row "| (dist_train.log does not name nccl: check the backend) | - | - | - |"
else
    row "| tools/dist_train.sh, 2 GPUs (nccl) | SKIPPED ($GPUS GPU) | - | - |"
fi
# 4. accuracy parity of --amp in CUDA bf16, one GPU
if [ "${PARITY:-1}" != 0 ]; then
    CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES%%,*} OUT="$OUT/amp_parity" \
    PYTHON="$PYTHON" \
    run "--amp (bf16) against float32, demo LSTM, 3 seeds (amp_parity.sh)" \
        "$OUT/amp_parity.log" bash benchmarks/amp_parity.sh \
        --cfg-options optim_wrapper.dtype=bfloat16
    [ -f "$OUT/amp_parity/parity.md" ] && cat "$OUT/amp_parity/parity.md" >> "$TABLE"
fi
# 5. transformer heads against RU-LSTM at EK100 size, one GPU
if [ "${TRANSFORMERS:-1}" != 0 ]; then
    CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES%%,*} \
    run "AVT/AFFT heads vs RU-LSTM fusion, EK100 size (bench_transformer_heads.py)" \
        "$OUT/transformer_heads.log" "$PYTHON" \
        benchmarks/bench_transformer_heads.py --device cuda --bf16 \
        --repeats 5 --out "$OUT/transformer_heads.md"
    [ -f "$OUT/transformer_heads.md" ] && cat "$OUT/transformer_heads.md" >> "$TABLE"
fi
row ""
row "gpu_check: $([ $status -eq 0 ] && echo 'all checks pass' || echo 'FAILED')"
exit $status
