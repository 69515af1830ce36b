# Argument checks shared by the launch scripts (sourced, not run): each
# script sets USAGE first. A bad argument exits 2 with the value at fault
# and the usage line, before anything starts.
usage() {
    echo "$(basename "$0"): $1" >&2
    echo "usage: $USAGE" >&2
    exit 2
}
positive() {  # NAME VALUE: VALUE is a positive integer
    [[ $2 =~ ^[1-9][0-9]*$ ]] ||
        usage "$1 must be a positive integer, got '$2'"
}
torchrun_nodes() {  # dist_*.sh: the several-node variables, defaults set
    NNODES=${NNODES:-1}
    NODE_RANK=${NODE_RANK:-0}
    PORT=${PORT:-29500}
    positive NNODES "$NNODES"
    [[ $NODE_RANK =~ ^(0|[1-9][0-9]*)$ ]] && (( NODE_RANK < NNODES )) ||
        usage "NODE_RANK must be an integer 0 .. NNODES-1 =\
 $(( NNODES - 1 )), got '$NODE_RANK'"
    [[ $PORT =~ ^[1-9][0-9]{0,4}$ ]] && (( PORT <= 65535 )) ||
        usage "PORT must be an integer 1 .. 65535, got '$PORT'"
    MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
}
