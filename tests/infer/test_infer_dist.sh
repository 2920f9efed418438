#!/bin/sh
# `panseval infer --manifest` in long and distributed runs, on the bundled demo model and the
# synthetic demo images (`panseval demo-data`), plus a corrupt image and a case without one.
# The reference is the one-process run: every other way of running must give the same
# prediction files, byte for byte, the same manifest copy (-o; the output folder's name
# substituted, as the copy holds absolute paths), the same logged error for the corrupt case
# and the same counts:
#   - mpirun -n 1|2|3 --mpi (skipped with a message when the build or machine has no MPI);
#   - --shard 1/3..3/3 and `panseval merge` (a missing and a duplicated shard are refused,
#     naming the cases);
#   - runs killed at random moments (SIGKILL, SIGINT, SIGTERM) and finished with --resume,
#     with a journaled prediction damaged and a stray file planted in between (both redone);
#     a killed run never leaves a -o file that is not the complete one;
#   - a journal of other options or another manifest is refused with the reason;
#   - a rank killed under mpirun ends the job with mpirun's message naming it, keeps the
#     journal and writes no -o; --resume finishes with the same bytes.
#   - `panseval reproduce --model` the same way: mpirun -n 2|3 --mpi and killed runs +
#     --resume write the same report folder as one process, file for file.
# Data: 12 demo cases (4 of each modality) plus the two broken ones; in a sanitizer build
# (PS_TEST_SANITIZED=1, scripts/gate.sh) 6 (2 of each), as every case costs several times
# more there: the same checks over the same code paths, after the release build has run them
# on the full set.
# Argument: "mpi" when the build has MPI and mpirun is found, else "none".
. "$PS_TEST_SRCDIR/cli/cli_lib.sh"
T="$PS_TEST_TMPDIR/infer_dist"
MODEL="$PS_TEST_SRCDIR/../models/demo-pancreas"
rm -rf "$T"; mkdir -p "$T"
"$PANSEVAL" demo-data --out "$T/demo" -q -j 2
# the demo cases' images, a corrupt image and a case without one
head -c 3000 /dev/urandom >"$T/demo/images/bad.nii.gz"
if [ "${PS_TEST_SANITIZED:-0}" = 1 ]; then
  pick='1,2p;9,10p;17,18p'; rpick='1,3p;9,10p;17,18p'    # 2 cases of each modality
else
  pick='1,4p;9,12p;17,20p'; rpick='1,5p;9,12p;17,20p'    # 4 of each
fi
{
  printf 'case\tmodality\timage\n'
  grep -v '^#' "$T/demo/manifest.tsv" | awk -F'\t' 'NR > 1 { print $1 "\t" $3 "\t" $5 }' |
    sed -n "$pick"
  printf 'bad\tCT\timages/bad.nii.gz\n'
  printf 'noimg\tCT\t\n'
} >"$T/demo/m.tsv"
M="$T/demo/m.tsv"
OPTS="--model $MODEL --manifest $M --name demo --no-mirroring -j 1"
NPRED=$(awk 'NR > 1' "$M" | grep -vc '^noimg')   # cases with an image, bad included

# same_run NAME DIR COPY ERR: the predictions in DIR, the copy and the error line are the
# one-process run's
same_run() {
  ok=1
  for f in "$T/o1"/*.nii.gz; do
    cmp -s "$f" "$2/$(basename "$f")" || { ok=0; echo "# differs: $2/$(basename "$f")"; }
  done
  [ "$(ls "$2" | grep -c 'nii.gz$')" = "$(ls "$T/o1" | grep -c 'nii.gz$')" ] || ok=0
  if [ $ok = 1 ]; then pass "$1: same prediction files"; else fail "$1" "predictions differ"; fi
  sed "s#$2/#$T/o1/#g" "$3" >"$3.sub"
  check_same "$1: same manifest copy" "$T/m1.tsv" "$3.sub"
  if [ -n "$4" ]; then
    grep "case 'bad'" "$4" | sed "s#^.*case 'bad'#case 'bad'#" >"$4.bad"
    check_same "$1: same error for the corrupt case" "$T/one.bad" "$4.bad"
    check_contains "$1: same counts" "$4" "$(cat "$T/one.counts")"
  fi
}

# ---- the one-process run ----
"$PANSEVAL" infer $OPTS --out-dir "$T/o1" -o "$T/m1.tsv" 2>"$T/one.err"
check_status "one process: exit 1 (a case failed)" 1 $?
check_contains "one process: the corrupt case is named" "$T/one.err" "case 'bad'"
grep "case 'bad'" "$T/one.err" | sed "s#^.*case 'bad'#case 'bad'#" >"$T/one.bad"
sed -n 's/^.*: \([0-9]* case(s) predicted, [0-9]* skipped (output exists), [0-9]* failed, [0-9]* without an image\).*$/\1/p' "$T/one.err" >"$T/one.counts"
check_contains "one process: counts" "$T/one.counts" "$((NPRED - 1)) case(s) predicted, 0 skipped (output exists), 1 failed, 1 without an image"
check_true "one process: no journal left" test ! -e "$T/m1.tsv.journal"
check_true "one process: the copy has the failed case's cell empty" \
  grep -q "^bad	CT	$T/demo/images/bad.nii.gz	\$" "$T/m1.tsv"
check_true "one process: the copy has absolute prediction paths" \
  grep -q "	$T/o1/" "$T/m1.tsv"
# the label maps are the ones `infer --input` writes for one case
first=$(awk -F'\t' 'NR == 2 { print $1 }' "$M")
"$PANSEVAL" infer --model "$MODEL" --no-mirroring -j 1 --input "$T/demo/images/$first.nii.gz" \
  -o "$T/single.nii.gz" 2>/dev/null
check_same "manifest case = single-case infer" "$T/single.nii.gz" "$T/o1/$first.nii.gz"

# ---- MPI ----
MPIRUN="mpirun --oversubscribe --allow-run-as-root"
if [ "$1" = mpi ]; then
  for k in 1 2 3; do
    $MPIRUN -n $k "$PANSEVAL" infer $OPTS --mpi --out-dir "$T/mpi$k" -o "$T/mpi$k.tsv" \
      >"$T/mpi$k.err" 2>&1
    check_status "mpirun -n $k: exit 1 (a case failed)" 1 $?
    same_run "mpirun -n $k" "$T/mpi$k" "$T/mpi$k.tsv" "$T/mpi$k.err"
    check_true "mpirun -n $k: no temporary file left" \
      sh -c "! ls -a '$T/mpi$k' | grep -q '^\.'[^.]"
  done
  $MPIRUN -n 2 "$PANSEVAL" infer $OPTS --out-dir "$T/dup" -o "$T/dup.tsv" >"$T/dup.err" 2>&1
  check_status "mpirun without --mpi is refused" 2 $?
  check_contains "refusal says to add --mpi" "$T/dup.err" "add --mpi"
else
  echo "# skipped: the MPI checks (this build has no MPI, or mpirun is not installed:" \
       "scripts/deps.sh --mpi, then meson setup --reconfigure)"
  "$PANSEVAL" infer $OPTS --mpi --out-dir "$T/x" -o "$T/x.tsv" 2>"$T/nompi.err"
  check_status "--mpi without MPI in the build" 1 $?
  check_contains "says MPI is unavailable" "$T/nompi.err" "MPI is not available"
fi

# ---- shards and merge ----
for i in 1 2 3; do
  "$PANSEVAL" infer $OPTS --shard $i/3 --out-dir "$T/os" -o "$T/s$i.tsv" 2>"$T/s$i.err"
  st=$?
  [ "$st" = 0 ] || [ "$st" = 1 ] || fail "shard $i/3 exit status" "$st"
  check_true "shard $i/3 keeps its journal" test -s "$T/s$i.tsv.journal"
done
n1=$(awk -F'\t' 'NR > 1 && $4 != ""' "$T/s1.tsv" | wc -l)
n2=$(awk -F'\t' 'NR > 1 && $4 != ""' "$T/s2.tsv" | wc -l)
n3=$(awk -F'\t' 'NR > 1 && $4 != ""' "$T/s3.tsv" | wc -l)
echo "# shards: $n1, $n2, $n3 predictions"
check_true "the shards split the cases (each has some, together all but the failed one)" \
  test "$n1" -gt 0 -a "$n2" -gt 0 -a "$n3" -gt 0 -a $((n1 + n2 + n3)) = $((NPRED - 1))
"$PANSEVAL" merge "$T/ms.tsv" "$T/s1.tsv" "$T/s2.tsv" "$T/s3.tsv" 2>"$T/merge.err"
check_status "merge of 3 shards: exit 1 (a case failed)" 1 $?
same_run "shards + merge" "$T/os" "$T/ms.tsv" ""
"$PANSEVAL" merge "$T/mx.tsv" "$T/s1.tsv" "$T/s3.tsv" 2>"$T/miss.err"
check_status "merge with a shard missing" 2 $?
check_contains "missing shard: says so" "$T/miss.err" "are in no shard"
check_true "missing shard: names a case of shard 2" sh -c \
  "for c in \$(awk -F'\t' 'NR > 1 && \$4 != \"\" { print \$1 }' '$T/s2.tsv'); do grep -q \"\$c\" '$T/miss.err' && exit 0; done; exit 1"
check_true "missing shard: nothing written" test ! -e "$T/mx.tsv"
"$PANSEVAL" merge "$T/mx.tsv" "$T/s1.tsv" "$T/s2.tsv" "$T/s3.tsv" "$T/s2.tsv.journal" \
  2>"$T/dupm.err"
check_status "merge with a shard twice" 2 $?
check_contains "duplicated shard: says so" "$T/dupm.err" "appear in more than one shard"

# ---- usage ----
"$PANSEVAL" infer $OPTS --resume --out-dir "$T/u" 2>"$T/u1.err"
check_status "--resume without -o is a usage error" 2 $?
check_contains "--resume without -o: says why" "$T/u1.err" "keep a journal beside -o"
"$PANSEVAL" infer --model "$MODEL" --input "$T/demo/images/$first.nii.gz" -o "$T/u.nii.gz" \
  --mpi 2>"$T/u2.err"
check_status "--mpi without --manifest is a usage error" 2 $?

# ---- refused journals ----
"$PANSEVAL" infer $OPTS --shard 1/3 --resume --out-dir "$T/os" -o "$T/s1.tsv" -v \
  2>"$T/same.err"
st=$?
[ "$st" = 0 ] || [ "$st" = 1 ] && pass "resume of a finished shard runs" ||
  fail "resume of a finished shard" "status $st"
# the journal holds the shard's predicted cases and its case without an image (if it has
# it); its failed case is tried again
w1=$(sed -n 's/^.* \([0-9]*\) without an image.*$/\1/p' "$T/s1.err")
check_contains "resume of a finished shard predicts nothing" "$T/same.err" \
  "$((n1 + w1)) case(s) taken from the journal, 0 journaled prediction(s) changed"
"$PANSEVAL" infer --model "$MODEL" --manifest "$M" --name demo -j 1 --shard 1/3 --resume \
  --out-dir "$T/os" -o "$T/s1.tsv" 2>"$T/ref1.err"
check_status "a journal of other options (mirroring) is refused" 1 $?
check_contains "the reason: the options differ" "$T/ref1.err" "the options differ"
check_contains "the reason names mirroring" "$T/ref1.err" "mirroring=0"
head -n 5 "$M" >"$T/demo/m_other.tsv"
cp "$T/s1.tsv.journal" "$T/other.tsv.journal"
"$PANSEVAL" infer --model "$MODEL" --manifest "$T/demo/m_other.tsv" --name demo \
  --no-mirroring -j 1 --shard 1/3 --resume --out-dir "$T/os" -o "$T/other.tsv" 2>"$T/ref2.err"
check_status "a journal of another manifest is refused" 1 $?
check_contains "the reason: the manifest differs" "$T/ref2.err" "the manifest differs"

# ---- killed runs and --resume ----
# with mirroring (8 passes a tile), so that a run lasts long enough to be killed in the middle;
# its own one-process reference
OPTS="--model $MODEL --manifest $M --name demo -j 1"
"$PANSEVAL" infer $OPTS --out-dir "$T/o1" -o "$T/m1.tsv" --force 2>"$T/one.err"
check_status "one process, mirroring: exit 1" 1 $?
grep "case 'bad'" "$T/one.err" | sed "s#^.*case 'bad'#case 'bad'#" >"$T/one.bad"
# each round starts (with --resume) and is killed after a random time; the output is either
# absent or the complete copy, never a torn one
sigs="KILL INT TERM KILL INT"
round=0
seed=$$
for sig in $sigs; do
  round=$((round + 1))
  delay=$(awk -v s="$seed" -v r="$round" 'BEGIN { srand(s + r); printf "%.2f", 0.3 + rand() * 2.5 }')
  "$PANSEVAL" infer $OPTS --resume --out-dir "$T/or" -o "$T/mr.tsv" >"$T/kill$round.err" 2>&1 &
  pid=$!
  sleep "$delay"
  kill -s "$sig" "$pid" 2>/dev/null
  wait "$pid"
  st=$?
  echo "# round $round: SIG$sig after $delay s, exit $st"
  if [ -e "$T/mr.tsv" ]; then
    sed "s#$T/or/#$T/o1/#g" "$T/mr.tsv" | cmp -s - "$T/m1.tsv" &&
      pass "round $round: -o is complete or absent" ||
      fail "round $round: -o is complete or absent" "a partial $T/mr.tsv"
    break   # finished before the signal
  else
    pass "round $round: -o is complete or absent"
  fi
  if [ "$sig" = INT ] && [ "$st" = 130 ]; then
    check_contains "round $round: SIGINT says how to resume" "$T/kill$round.err" \
      "run the same command with --resume"
  fi
  if [ $round = 1 ]; then
    # plant a stray prediction (as a torn file would be) for the last case with an image
    last=$(awk -F'\t' 'NR > 1 && $3 != "" && $1 != "bad" { c = $1 } END { print c }' "$M")
    mkdir -p "$T/or"
    [ -e "$T/or/$last.nii.gz" ] || { printf 'torn' >"$T/or/$last.nii.gz"; echo "# planted $last"; }
  fi
done
# without -o there is no journal: SIGINT says so and how to go on
"$PANSEVAL" infer $OPTS --out-dir "$T/onoj" >"$T/noj.err" 2>&1 &
pid=$!
sleep 1
kill -s INT "$pid" 2>/dev/null
wait "$pid"
st=$?
if [ "$st" = 130 ]; then
  check_contains "SIGINT without -o: says where the predictions are" "$T/noj.err" \
    "their predictions are in $T/onoj; run the same command again"
else
  echo "# SIGINT without -o: the run had ended (exit $st)"
fi
# damage a prediction the journal vouches for (its path is in a record): it is redone. When
# the last round finished the run (no journal left), one more run is stopped after its first
# journaled case.
if ! grep -aq "$T/or/" "$T/mr.tsv.journal" 2>/dev/null; then
  rm -f "$T/mr.tsv"
  "$PANSEVAL" infer $OPTS --resume --out-dir "$T/or" -o "$T/mr.tsv" >"$T/extra.err" 2>&1 &
  pid=$!
  n=0
  while [ $n -lt 600 ] && ! grep -aq "$T/or/" "$T/mr.tsv.journal" 2>/dev/null; do
    sleep 0.1; n=$((n + 1))
  done
  kill -s INT "$pid" 2>/dev/null
  wait "$pid"
  rm -f "$T/mr.tsv"   # in case it had finished: the journal is what the next run resumes
fi
j=$(grep -ao "$T/or/[A-Za-z0-9_]*\.nii\.gz" "$T/mr.tsv.journal" 2>/dev/null | head -n 1)
check_true "a journaled prediction to damage" test -n "$j" -a -f "$j"
[ -n "$j" ] && head -c 100 "$T/o1/$(basename "$j")" >"$j"
"$PANSEVAL" infer $OPTS --resume --out-dir "$T/or" -o "$T/mr.tsv" -v 2>"$T/resume.err"
check_status "the final --resume: exit 1 (a case failed)" 1 $?
same_run "killed runs + --resume" "$T/or" "$T/mr.tsv" "$T/resume.err"
check_contains "the damaged journaled prediction was noticed" "$T/resume.err" \
  "not the file the journal recorded"
check_true "the final --resume removes the journal" test ! -e "$T/mr.tsv.journal"

if [ "$1" = mpi ]; then
  # a rank that dies: mpirun ends the job and names it; the journal keeps the finished cases,
  # no -o is written, and --resume (one process) finishes with the same bytes
  $MPIRUN -n 2 "$PANSEVAL" infer $OPTS --mpi --out-dir "$T/odead" -o "$T/mdead.tsv" \
    >"$T/dead.err" 2>&1 &
  mp=$!
  n=0 killed=0
  while [ $n -lt 200 ] && [ $killed = 0 ]; do
    n=$((n + 1))
    if ls "$T/odead"/*.nii.gz >/dev/null 2>&1; then
      # rank 1: the panseval process of this run whose environment says so
      for p in $(ps -eo pid=,args= | awk -v d="$T/odead" 'index($0, d) && $2 ~ /panseval$/ { print $1 }'); do
        if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1'; then
          kill -s KILL "$p" && killed=1
        fi
      done
    fi
    [ $killed = 1 ] || sleep 0.1
  done
  wait $mp
  st=$?
  if [ $killed = 1 ]; then
    check_true "a dead rank ends the job (exit $st)" test "$st" -ne 0 -a "$st" -ne 1
    check_contains "mpirun names the dead rank" "$T/dead.err" "rank 1"
    check_true "a dead rank: no -o written" test ! -e "$T/mdead.tsv"
    check_true "a dead rank: the journal is kept" test -s "$T/mdead.tsv.journal"
    "$PANSEVAL" infer $OPTS --resume --out-dir "$T/odead" -o "$T/mdead.tsv" 2>"$T/dead2.err"
    check_status "after a dead rank, --resume: exit 1" 1 $?
    same_run "a dead rank + --resume" "$T/odead" "$T/mdead.tsv" "$T/dead2.err"
  else
    fail "a dead rank" "could not find rank 1 of the run to kill"
  fi
fi
if [ "$1" = mpi ]; then
  # a journal of a one-process run, finished by mpirun -n 2 --resume
  "$PANSEVAL" infer $OPTS --out-dir "$T/omr" -o "$T/mmr.tsv" >"$T/mk.err" 2>&1 &
  pid=$!
  sleep 0.8
  kill -s INT "$pid" 2>/dev/null
  wait "$pid"
  $MPIRUN -n 2 "$PANSEVAL" infer $OPTS --mpi --resume --out-dir "$T/omr" -o "$T/mmr.tsv" \
    >"$T/mmr.err" 2>&1
  check_status "mpirun -n 2 --resume of a one-process journal: exit 1" 1 $?
  same_run "one process interrupted + mpirun --resume" "$T/omr" "$T/mmr.tsv" "$T/mmr.err"
fi
# ---- reproduce --model: inference and evaluation over ranks, killed runs + --resume ----
# its manifest: the first cases with image and ref, and the corrupt image (an error row)
{
  grep -v '^#' "$T/demo/manifest.tsv" | awk -F'\t' '{ print $1 "\t" $3 "\t" $4 "\t" $5 "\t" $6 }' |
    sed -n "$rpick"
  printf 'bad\tCT\tsite1\timages/bad.nii.gz\tlabels/ref/ct01.nii.gz\n'
} >"$T/demo/r.tsv"
ROPTS="--manifest $T/demo/r.tsv --out $T/rep --model demo=$MODEL --no-mirroring -j 1"
"$PANSEVAL" reproduce $ROPTS >"$T/rep_one.out" 2>"$T/rep_one.err"
check_status "reproduce, one process: exit 1 (an error row)" 1 $?
check_contains "reproduce: the corrupt case's inference failed" "$T/rep_one.err" "case 'bad'"
check_true "reproduce: no journal left" sh -c "! find '$T/rep' -name '*.journal' | grep -q ."
mv "$T/rep" "$T/rep_one"
# same_report NAME: $T/rep has the files of $T/rep_one, byte for byte; then it is moved away
same_report() {
  # (hidden files included: the temporary of a file being written has no name (O_TMPFILE),
  # so a SIGKILLed run leaves none, except when killed between its two last system calls)
  if diff -r "$T/rep_one" "$T/rep" >"$T/$1.diff" 2>&1; then pass "reproduce $1: same files"
  else fail "reproduce $1: same files" "$(head -c 400 "$T/$1.diff")"; fi
  rm -rf "$T/rep_$1"; mv "$T/rep" "$T/rep_$1"
}
if [ "$1" = mpi ]; then
  for k in 2 3; do
    $MPIRUN -n $k "$PANSEVAL" reproduce $ROPTS --mpi >"$T/rep_mpi$k.out" 2>"$T/rep_mpi$k.err"
    check_status "reproduce, mpirun -n $k: exit 1" 1 $?
    check_same "reproduce, mpirun -n $k: same standard output" "$T/rep_one.out" \
      "$T/rep_mpi$k.out"
    same_report "mpi$k"
  done
fi
round=0
for sig in KILL INT KILL; do
  round=$((round + 1))
  delay=$(awk -v s="$seed" -v r="$round" 'BEGIN { srand(s + 7 * r); printf "%.2f", 0.2 + rand() * 1.2 }')
  "$PANSEVAL" reproduce $ROPTS --resume >"$T/rk$round.out" 2>"$T/rk$round.err" &
  pid=$!
  sleep "$delay"
  kill -s "$sig" "$pid" 2>/dev/null
  wait "$pid"
  echo "# reproduce round $round: SIG$sig after $delay s, exit $?"
done
"$PANSEVAL" reproduce $ROPTS --resume >"$T/rep_res.out" 2>"$T/rep_res.err"
check_status "reproduce, killed runs + --resume: exit 1" 1 $?
same_report "resume"
cli_done
