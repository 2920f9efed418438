#!/bin/sh
# `panseval agreement` as a long or distributed run: every mode writes the bytes of a clean
# one-process run (all its tables: pairs, cases, sessions, models, summary, dice_matrix,
# models_summary): mpirun -n 1|2|3 --mpi, --shard 1/3..3/3 + `panseval merge`, a run killed
# at random moments (SIGKILL, SIGTERM, SIGINT) and resumed each time, a run whose worker rank
# dies; a torn last journal record is dropped; a journal of other options or another
# manifest is refused; a missing or duplicated shard in the merge names the cases; a case
# with a corrupt rater file is the same error rows in every mode. The expected bytes are the clean run's (the property under test is identity).
# Data: the demo set of test_agreement_cli.sh (seed 1) repeated 3 times (72 cases), one
# rater file of one case replaced by a truncated copy; in a sanitizer build
# (PS_TEST_SANITIZED=1, scripts/gate.sh) once (24 cases), as every case costs several times
# more there: the same checks over the same code paths, after the release build has run them
# on the full set. Argument: "mpi" or "none".
. "$PS_TEST_SRCDIR/cli/cli_lib.sh"
T="$PS_TEST_TMPDIR/agree_dist"
rm -rf "$T"; mkdir -p "$T"
"$PANSEVAL" demo-data --out "$T/demo" --seed 1 -q -j 2 >/dev/null 2>&1
check_status "demo data" 0 $?
head -c 400 "$T/demo/labels/raterB/ct02.nii.gz" > "$T/demo/corrupt_B.nii.gz" # gzip cut short
check_status "the corrupt file has 400 bytes" 400 "$(wc -c <"$T/demo/corrupt_B.nii.gz" | tr -d ' ')"
R="$T/demo/rep.tsv"
reps=3; [ "${PS_TEST_SANITIZED:-0}" = 1 ] && reps=1
awk -F'\t' -v reps=$reps 'BEGIN { OFS = "\t" } /^#/ { print; next }
  !h { h = 1; for (i = 1; i <= NF; i++) if ($i == "rater:B") b = i; print; next }
  { id = $1; for (r = 1; r <= reps; r++) { $1 = id "_r" r; row = $0
      if ($1 == "ct02_r" reps) $b = "corrupt_B.nii.gz"; print; $0 = row } }' \
  "$T/demo/manifest.tsv" > "$R"
check_status "$((24 * reps)) cases" $((24 * reps)) "$(grep -vc '^#' "$R" | awk '{ print $1 - 1 }')"
A="--ref-name A --sessions --models --by modality"
# same TABLES: the files of two folders are identical (names and bytes; no temporary left)
same_tables() {
  diff -r "$2" "$3" >"$T/diff.out" 2>&1
  if [ $? -eq 0 ]; then pass "$1"; else fail "$1" "$(head -c 600 "$T/diff.out")"; fi
}

# the clean run
"$PANSEVAL" agreement --manifest "$R" $A --out-dir "$T/one" -q -j 2 >/dev/null 2>"$T/one.err"
check_status "one process: exit 1 (one case failed)" 1 $?
check_contains "the corrupt case is an error row" "$T/one/cases.csv" "ct02_r$reps,ct-sub02,CT,site2,,image,0,0,error"
check_contains "its message names the file" "$T/one/cases.csv" "corrupt_B.nii.gz"
check_true "a complete run removes its journal" test ! -e "$T/one/agreement.journal"
for f in pairs cases sessions models summary dice_matrix models_summary; do
  check_true "one process writes $f.csv" test -s "$T/one/$f.csv"
done

# shards and merge
for i in 1 2 3; do
  "$PANSEVAL" agreement --manifest "$R" $A --shard $i/3 --out-dir "$T/s$i" -q -j 1 \
    >/dev/null 2>&1
  st=$?
  check_true "shard $i/3 exits 0 or 1 ($st)" test "$st" -le 1
  check_true "shard $i/3 keeps its journal" test -s "$T/s$i/agreement.journal"
done
n1=$(($(wc -l <"$T/s1/cases.csv") + $(wc -l <"$T/s2/cases.csv") + $(wc -l <"$T/s3/cases.csv")))
check_status "the shards' cases tables hold every case row once" \
  "$(($(wc -l <"$T/one/cases.csv") + 2))" "$n1"
"$PANSEVAL" merge "$T/merged" "$T/s3" "$T/s1" "$T/s2/agreement.journal" 2>"$T/merge.err"
check_status "merge of 3 shards (any order, folder or journal): exit 1 (a failed case)" 1 $?
same_tables "merge of 3 shards: the tables of one process" "$T/one" "$T/merged"
first3=$(awk -F, 'NR == 2 { print $1 }' "$T/s3/cases.csv")
"$PANSEVAL" merge "$T/m2" "$T/s1" "$T/s2" 2>"$T/err"
check_status "a missing shard is refused" 2 $?
check_contains "a missing shard: says so" "$T/err" "are in no shard"
check_contains "a missing shard names its cases ($first3)" "$T/err" "$first3"
check_true "a refused merge creates no folder" test ! -e "$T/m2"
first2=$(awk -F, 'NR == 2 { print $1 }' "$T/s2/cases.csv")
"$PANSEVAL" merge "$T/m3" "$T/s1" "$T/s2" "$T/s3" "$T/s2" 2>"$T/err"
check_status "a duplicated shard is refused" 2 $?
check_contains "a duplicated shard: says so" "$T/err" "appear in more than one shard"
check_contains "a duplicated shard names its cases ($first2)" "$T/err" "$first2"
"$PANSEVAL" agreement --manifest "$R" $A --hd95 monai --shard 3/3 --out-dir "$T/s3x" -q \
  >/dev/null 2>&1
"$PANSEVAL" merge "$T/m4" "$T/s1" "$T/s2" "$T/s3x" 2>"$T/err"
check_status "a shard with other options is refused" 2 $?
check_contains "other options: named" "$T/err" "the options differ"
"$PANSEVAL" merge "$T/s1" "$T/s1" "$T/s2" "$T/s3" 2>"$T/err"
check_status "merging into a shard's folder is refused" 2 $?
"$PANSEVAL" merge "$T/m5" "$T/s1" "$T/s2" "$T/s3" --format json 2>"$T/err"
check_status "--format other than the shards' is refused" 2 $?

# killed at random moments, resumed each time
t0=$(date +%s%N)
"$PANSEVAL" agreement --manifest "$R" $A --out-dir "$T/timed" -q -j 1 >/dev/null 2>&1
span_ms=$((($(date +%s%N) - t0) / 1000000 * 9 / 10))
[ "$span_ms" -lt 100 ] && span_ms=100
K="$T/killed"
mid=0
round=0
while [ $mid -lt 6 ] && [ $round -lt 30 ]; do
  case $((round % 3)) in 0) sig=KILL ;; 1) sig=TERM ;; *) sig=INT ;; esac
  at=$(awk -v s=$round -v span=$span_ms 'BEGIN { srand(20261202 + s); printf "%.3f", (50 + rand() * span) / 1000 }')
  timeout --foreground -s $sig "$at" "$PANSEVAL" agreement --manifest "$R" $A --out-dir "$K" \
    -q -j 1 --resume >/dev/null 2>"$T/kill.err"
  [ -e "$K/agreement.journal" ] && mid=$((mid + 1))
  # never a truncated table: absent, or a complete prefix of the clean one
  for f in pairs cases sessions models; do
    if [ -e "$K/$f.csv" ]; then
      n=$(wc -c <"$K/$f.csv")
      if ! cmp -s -n "$n" "$K/$f.csv" "$T/one/$f.csv" || [ "$(tail -c 1 "$K/$f.csv" | od -An -c | tr -d ' ')" != '\n' ]; then
        fail "round $round (SIG$sig at $at s): $f.csv is a complete prefix" "it is not"
      fi
    fi
  done
  round=$((round + 1))
done
check_true "6 kills stopped a run before its end ($mid in $round rounds)" test $mid -ge 6
"$PANSEVAL" agreement --manifest "$R" $A --out-dir "$K" -q -j 2 --resume >/dev/null 2>&1
check_status "the last --resume: exit 1 (a failed case)" 1 $?
same_tables "killed $round times and resumed: the tables of one process" "$T/one" "$K"
check_true "the journal is removed once complete" test ! -e "$K/agreement.journal"

# SIGINT: says what was kept and how to resume; other journals are refused with the reason
timeout --foreground --preserve-status -s INT 1 "$PANSEVAL" agreement --manifest "$R" $A --out-dir "$T/int" \
  -q -j 1 >/dev/null 2>"$T/int.err"
check_status "SIGINT exits 130" 130 $?
check_contains "SIGINT: how many cases were kept" "$T/int.err" "kept the "
check_contains "SIGINT: how to resume" "$T/int.err" "run the same command with --resume"
"$PANSEVAL" agreement --manifest "$R" $A --hd95 monai --out-dir "$T/int" -q --resume \
  >/dev/null 2>"$T/err"
check_status "a journal of other options is refused" 2 $?
check_contains "other options: the reason" "$T/err" "cannot resume from this journal: the options differ"
check_contains "other options: the values" "$T/err" "hd95=monai"
"$PANSEVAL" agreement --manifest "$R" --ref-name A --sessions --models --out-dir "$T/int" -q \
  --resume >/dev/null 2>"$T/err"
check_status "a journal of another --by is refused" 2 $?
check_contains "another --by: the reason" "$T/err" "by=modality"
"$PANSEVAL" agreement --manifest "$T/demo/manifest.tsv" $A --out-dir "$T/int" -q --resume \
  >/dev/null 2>"$T/err"
check_status "a journal of another manifest is refused" 2 $?
check_contains "another manifest: the reason" "$T/err" "the manifest differs"
# a record cut short (a crash inside its write) is dropped, and its case computed again
J="$T/int/agreement.journal"
n=$(wc -c <"$J")
head -c $((n - 37)) "$J" >"$J.cut" && mv "$J.cut" "$J"
"$PANSEVAL" agreement --manifest "$R" $A --out-dir "$T/int" -v --resume >/dev/null 2>"$T/err"
check_status "--resume after SIGINT and a torn record: exit 1 (a failed case)" 1 $?
check_contains "the torn record is dropped" "$T/err" "dropped a torn last record"
check_contains "-v says how many cases came from the journal" "$T/err" "case(s) taken from the journal"
same_tables "--resume after SIGINT: the tables of one process" "$T/one" "$T/int"

if [ "$1" = mpi ]; then
  for k in 1 2 3; do
    mpirun -n $k --oversubscribe --allow-run-as-root "$PANSEVAL" agreement --manifest "$R" $A \
      --mpi -j 1 --out-dir "$T/mpi$k" -q >"$T/mpi$k.err" 2>&1
    check_status "mpirun -n $k: exit 1 (a failed case)" 1 $?
    same_tables "mpirun -n $k: the tables of one process" "$T/one" "$T/mpi$k"
  done
  # JSON too, and shards merged from MPI runs
  "$PANSEVAL" agreement --manifest "$R" $A --format json --out-dir "$T/onej" -q >/dev/null 2>&1
  mpirun -n 3 --oversubscribe --allow-run-as-root "$PANSEVAL" agreement --manifest "$R" $A \
    --mpi --format json --out-dir "$T/mpij" -q >/dev/null 2>&1
  same_tables "mpirun -n 3, JSON: the tables of one process" "$T/onej" "$T/mpij"
  for i in 1 2; do
    mpirun -n 2 --oversubscribe --allow-run-as-root "$PANSEVAL" agreement --manifest "$R" $A \
      --mpi --shard $i/2 --out-dir "$T/ms$i" -q >/dev/null 2>&1
  done
  "$PANSEVAL" merge "$T/mmerged" "$T/ms1" "$T/ms2" 2>/dev/null
  same_tables "MPI shards merged: the tables of one process" "$T/one" "$T/mmerged"
  mpirun -n 2 --oversubscribe --allow-run-as-root "$PANSEVAL" agreement --manifest "$R" $A \
    --out-dir "$T/dup" >"$T/dup.err" 2>&1
  check_status "mpirun without --mpi is refused" 2 $?
  check_contains "refusal says to add --mpi" "$T/dup.err" "add --mpi"
  # a worker rank that dies ends the job with a message naming it; the journal keeps the
  # cases finished before, and --resume completes the same tables
  mpirun -n 3 --oversubscribe --allow-run-as-root "$PANSEVAL" agreement --manifest "$R" $A \
    --mpi -j 1 --out-dir "$T/dead" -q >"$T/dead.err" 2>&1 &
  mp=$!
  victim=
  for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
    sleep 0.25
    # rank 1 among mpirun's descendants: by its OMPI_COMM_WORLD_RANK
    for p in $(ps -e -o pid= -o ppid= | awk -v r="$mp" '{ kid[$2] = kid[$2] " " $1 }
        END { q = r; while (q != "") { split(q, a, " "); q = ""; for (i in a) {
          print a[i]; q = q " " kid[a[i]] } } }'); do
      if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1'; then
        victim=$p
      fi
    done
    [ -n "$victim" ] && [ -s "$T/dead/agreement.journal" ] && break
  done
  sleep 0.5
  [ -n "$victim" ] && kill -KILL "$victim"
  wait $mp
  st=$?
  check_true "a dead rank ends the job with a non-zero status ($st)" test "$st" -ne 0 -a -n "$victim"
  check_contains "the message names the dead rank" "$T/dead.err" "rank 1"
  check_true "the journal is kept" test -s "$T/dead/agreement.journal"
  "$PANSEVAL" agreement --manifest "$R" $A --out-dir "$T/dead" -q --resume >/dev/null 2>&1
  check_status "--resume after a dead rank: exit 1 (a failed case)" 1 $?
  same_tables "--resume after a dead rank: the tables of one process" "$T/one" "$T/dead"
else
  "$PANSEVAL" agreement --manifest "$R" $A --mpi --out-dir "$T/x" 2>"$T/nompi.err"
  check_status "--mpi without MPI in the build" 1 $?
  check_contains "says MPI is unavailable" "$T/nompi.err" "MPI is not available"
fi
cli_done
