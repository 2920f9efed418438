#!/bin/sh
# panseval metrics over MPI ranks: `mpirun -n K panseval metrics --mpi` writes the bytes of a
# one-process run for K = 1, 2, 3 (and with --resume of a journal a one-process run left);
# without MPI in the build, --mpi says that it is unavailable. Argument: "mpi" or "none".
. "$PS_TEST_SRCDIR/cli/cli_lib.sh"
T="$PS_TEST_TMPDIR/mpi_cli"
rm -rf "$T"; mkdir -p "$T"
"$PANSEVAL" demo-data --out "$T/demo" -q -j 2
M="$T/demo/manifest.tsv"
"$PANSEVAL" metrics --manifest "$M" -j 2 -o "$T/one.csv" 2>/dev/null
check_status "one-process run" 0 $?
if [ "$1" = mpi ]; then
  for k in 1 2 3; do
    mpirun -n $k --oversubscribe --allow-run-as-root "$PANSEVAL" metrics --manifest "$M" \
      --mpi -j 1 -o "$T/mpi$k.csv" >"$T/mpi$k.err" 2>&1
    check_status "mpirun -n $k exit status" 0 $?
    check_same "mpirun -n $k: same bytes as one process" "$T/one.csv" "$T/mpi$k.csv"
  done
  # JSON too (rows serialised through the journal codec and written by rank 0)
  "$PANSEVAL" metrics --manifest "$M" -j 2 -o "$T/one.json" 2>/dev/null
  mpirun -n 3 --oversubscribe --allow-run-as-root "$PANSEVAL" metrics --manifest "$M" --mpi \
    -o "$T/mpi3.json" 2>/dev/null
  check_same "mpirun -n 3, JSON: same bytes" "$T/one.json" "$T/mpi3.json"
  # resume under MPI from a journal cut at several places, also inside a case (a task is a
  # case; its journaled jobs come from the journal, the others are run): the bytes of the
  # uninterrupted run. A --shard 1/1 run keeps its journal.
  "$PANSEVAL" metrics --manifest "$M" -j 2 --shard 1/1 -o "$T/sh.csv" 2>/dev/null
  size=$(wc -c < "$T/sh.csv.journal")
  for frac in 13 31 50 77 94; do
    cut=$((size * frac / 100))
    head -c "$cut" "$T/sh.csv.journal" > "$T/cut$frac.csv.journal"
    mpirun -n 2 --oversubscribe --allow-run-as-root "$PANSEVAL" metrics --manifest "$M" --mpi \
      -j 1 --shard 1/1 --resume -o "$T/cut$frac.csv" >"$T/cut$frac.err" 2>&1
    check_status "mpirun -n 2 --resume of a journal cut at $frac%" 0 $?
    check_same "resumed at $frac% under MPI: same bytes" "$T/sh.csv" "$T/cut$frac.csv"
  done
  check_same "a --shard 1/1 table is the one-process table" "$T/one.csv" "$T/sh.csv"
  # without --mpi, K processes are refused instead of all writing the same output
  mpirun -n 2 --oversubscribe --allow-run-as-root "$PANSEVAL" metrics --manifest "$M" \
    -o "$T/dup.csv" >"$T/dup.err" 2>&1
  check_status "mpirun without --mpi is refused" 2 $?
  check_contains "refusal says to add --mpi" "$T/dup.err" "add --mpi"
else
  "$PANSEVAL" metrics --manifest "$M" --mpi -o "$T/x.csv" 2>"$T/nompi.err"
  check_status "--mpi without MPI in the build" 1 $?
  check_contains "says MPI is unavailable" "$T/nompi.err" "MPI is not available"
fi
cli_done
