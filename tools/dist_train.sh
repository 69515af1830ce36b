#!/usr/bin/env bash
# Usage: tools/dist_train.sh CONFIG GPUS [train.py options]
# (PYTHON=/path/to/python picks the interpreter; default: python on PATH)
# One process per device with torchrun; nccl with CUDA, gloo on CPU (chosen
# in lsant_mmaction.engine.cli.setup_distributed). Several nodes: run it on each
# node with NNODES, NODE_RANK (0 on the master), MASTER_ADDR (the master's
# address) and PORT set alike.
USAGE="[NNODES=1] [NODE_RANK=0] [MASTER_ADDR=127.0.0.1] [PORT=29500] \
$0 CONFIG GPUS [train.py options]"
# Arguments are checked before anything starts: a bad one exits 2 with
# the usage line and the value at fault.
. "$(dirname "$0")/launcher_args.sh"  # usage, positive, torchrun_nodes
if [ $# -lt 2 ]; then
    usage "expected CONFIG and GPUS (the number of processes per node),\
 got $# argument(s)"
fi
CONFIG=$1
GPUS=$2
[ -n "$CONFIG" ] || usage "CONFIG is empty"
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
    "$TOOLS/train.py" \
    "$CONFIG" \
    --launcher pytorch "${@:3}"
