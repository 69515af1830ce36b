#!/usr/bin/env bash
# Usage: tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py options]
# Several nodes: as tools/dist_train.sh (NNODES, NODE_RANK, MASTER_ADDR, PORT).
USAGE="[NNODES=1] [NODE_RANK=0] [MASTER_ADDR=127.0.0.1] [PORT=29500] \
$0 CONFIG CHECKPOINT GPUS [test.py options]"
# Arguments are checked before anything starts: a bad one exits 2 with
# the usage line and the value at fault.
. "$(dirname "$0")/launcher_args.sh"  # usage, positive, torchrun_nodes
if [ $# -lt 3 ]; then
    usage "expected CONFIG, CHECKPOINT and GPUS (the number of processes per\
 node), got $# argument(s)"
fi
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
[ -n "$CONFIG" ] || usage "CONFIG is empty"
[ -n "$CHECKPOINT" ] || usage "CHECKPOINT is empty"
positive GPUS "$GPUS"
torchrun_nodes  # NNODES, NODE_RANK, PORT, MASTER_ADDR
TOOLS="$(cd "$(dirname "$0")" && pwd)"

PYTHONPATH="$TOOLS/..${PYTHONPATH:+:$PYTHONPATH}" \
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} \
"${PYTHON:-python}" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    "$TOOLS/test.py" \
    "$CONFIG" \
    "$CHECKPOINT" \
    --launcher pytorch "${@:4}"
