#!/usr/bin/env bash
# Usage: [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS="..."] \
#     tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test.py options]
# One slurm task per device (srun, --launcher slurm). SRUN_ARGS is split at
# spaces into extra srun options; everything after CHECKPOINT goes to
# tools/test.py as given (quoted arguments stay whole).
set -euo pipefail
USAGE="[GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS=\"...\"] \
$0 PARTITION JOB_NAME CONFIG CHECKPOINT [test.py options]"
# Arguments are checked before srun starts: a bad one exits 2 with the
# usage line and the value at fault.
. "$(dirname "$0")/launcher_args.sh"  # usage, positive
if [ $# -lt 4 ]; then
    usage "expected PARTITION, JOB_NAME, CONFIG and CHECKPOINT,\
 got $# argument(s)"
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
CHECKPOINT=$4
for name in PARTITION JOB_NAME CONFIG CHECKPOINT; do
    [ -n "${!name}" ] || usage "$name is empty"
done
GPUS=${GPUS:-8}
positive GPUS "$GPUS"
GPUS_PER_NODE=${GPUS_PER_NODE:-$(( GPUS < 8 ? GPUS : 8 ))}
positive GPUS_PER_NODE "$GPUS_PER_NODE"
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
positive CPUS_PER_TASK "$CPUS_PER_TASK"
read -r -a EXTRA_SRUN <<< "${SRUN_ARGS:-}"
TOOLS="$(cd "$(dirname "$0")" && pwd)"

PYTHONPATH="$TOOLS/..${PYTHONPATH:+:$PYTHONPATH}" \
srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    --gres=gpu:"$GPUS_PER_NODE" \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    "${EXTRA_SRUN[@]}" \
    python -u "$TOOLS/test.py" "$CONFIG" "$CHECKPOINT" \
    --launcher slurm "${@:5}"
