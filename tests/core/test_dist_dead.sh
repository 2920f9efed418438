#!/bin/sh
# A rank that dies (SIGKILL at its first task) ends an MPI job with a message naming it, in
# bounded time (meson's timeout), instead of hanging rank 0. Prints Check's summary line.
. "$PS_TEST_SRCDIR/cli/cli_lib.sh"
exe="$(dirname "$PANSEVAL")/../../tests/core/test_dist"
err="$PS_TEST_TMPDIR/dist_dead.err"
mpirun -n 3 --oversubscribe --allow-run-as-root "$exe" --die-rank 1 >"$err" 2>&1
st=$?
if [ "$st" -ne 0 ]; then pass "job with a dead rank exits non-zero"; else fail "dead rank" "exit 0"; fi
# OpenMPI's mpirun names the rank and the signal ("process rank 1 ... exited on signal 9")
check_contains "message names the dead rank" "$err" "rank 1"
cli_done
