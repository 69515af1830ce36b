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
