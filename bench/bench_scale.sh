#!/bin/sh
# The paper-scale benchmark of issue 11 (figures in docs/cluster.md):
#   - the synthetic set of bench/gen_scale.c (2,117 cases: 1,350 CT 512x512x(80-250), 767 MRI
#     320x260x(40-80), two models), or every EVERY-th case of it (same CT/MRI mix);
#   - `panseval metrics -j 2` (both models: Dice, HD95, ASSD, NSD, ...) against the time to
#     only inflate every file it reads (libdeflate-gunzip, two processes in parallel);
#   - peak memory (max RSS) of the run against a run of a tenth of the cases: flat;
#   - `mpirun -n 2 ... --mpi -j 1` against one process with -j 2;
#   - a projection to N nodes from the measured cost per case.
# Every configuration is run RUNS times (default 3), alternating, and the median is quoted.
# Usage: bench/bench_scale.sh [SET_DIR]   env: EVERY=7 RUNS=3 PANSEVAL=build/src/cli/panseval
set -eu
cd "$(dirname "$0")/.."
SET=${1:-/tmp/panseval-scale}
EVERY=${EVERY:-7}
RUNS=${RUNS:-3}
PV=${PANSEVAL:-build/src/cli/panseval}
W=$(mktemp -d "${TMPDIR:-/tmp}/bench_scale.XXXXXX")
trap 'rm -rf "$W"' EXIT INT TERM
command -v libdeflate-gunzip >/dev/null || { echo "needs libdeflate-tools (scripts/deps.sh --bench)"; exit 1; }
if [ ! -f "$SET/manifest.tsv" ]; then
  cc -O2 -fopenmp -I/usr/include/nifti bench/gen_scale.c -ldeflate -lm -o "$W/gen_scale"
  "$W/gen_scale" "$SET"
fi
# the subset manifest: every EVERY-th case (paths stay relative to SET)
awk -v e="$EVERY" 'BEGIN{FS="\t"} /^#/ {next} !h {print; h=1; next} {if ((n++ % e) == 0) print}' \
  "$SET/manifest.tsv" > "$SET/bench_subset.tsv"
awk -v e="$((EVERY * 10))" 'BEGIN{FS="\t"} /^#/ {next} !h {print; h=1; next} {if ((n++ % e) == 0) print}' \
  "$SET/manifest.tsv" > "$SET/bench_tenth.tsv"
ncases=$(($(wc -l < "$SET/bench_subset.tsv") - 1))
# the files metrics reads: ref, pred:modelA, pred:modelB (columns 5, 7, 8)
awk 'BEGIN{FS="\t"} NR > 1 {print $5; print $7; print $8}' "$SET/bench_subset.tsv" |
  sed "s|^|$SET/|" > "$W/files"
nfiles=$(wc -l < "$W/files")
echo "set: $SET, $ncases cases (every ${EVERY}th of $(($(grep -vc '^#' "$SET/manifest.tsv") - 1))), $nfiles files, $(du -ch $(cat "$W/files") | tail -1 | cut -f1) compressed"

t() { # seconds of wall time of "$@" (stdout and stderr discarded)
  s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N)
  echo "$s $e" | awk '{printf "%.3f", $2 - $1}'
}
inflate() { xargs -P 2 -n 64 libdeflate-gunzip -c < "$W/files" > /dev/null; }
metrics() { "$PV" metrics --manifest "$SET/bench_subset.tsv" -j 2 -o "$W/m.csv" --no-progress; }
mpi2() {
  mpirun -n 2 --oversubscribe --allow-run-as-root "$PV" metrics --manifest "$SET/bench_subset.tsv" \
    --mpi -j 1 -o "$W/mpi.csv" --no-progress
}
median() { tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }

ti=""; tm=""; tp=""
for r in $(seq "$RUNS"); do
  ti="$ti $(t inflate)"
  tm="$tm $(t metrics)"
  if command -v mpirun >/dev/null && "$PV" metrics --help | grep -q -- --mpi; then
    tp="$tp $(t mpi2)"
  fi
done
mi=$(echo $ti | median); mm=$(echo $tm | median)
echo "inflate only (2 processes):        runs$ti s, median $mi s"
echo "panseval metrics -j 2:             runs$tm s, median $mm s"
echo "ratio metrics / inflate:           $(echo "$mm $mi" | awk '{printf "%.2f", $1 / $2}') (target <= 1.3)"
if [ -n "$tp" ]; then
  mp=$(echo $tp | median)
  echo "mpirun -n 2 --mpi -j 1:            runs$tp s, median $mp s"
  echo "ratio 2 ranks x 1 / 1 rank x 2:    $(echo "$mp $mm" | awk '{printf "%.2f", $1 / $2}') (target <= 1.10)"
  cmp -s "$W/m.csv" "$W/mpi.csv" && echo "mpirun output: byte-identical to one process"
fi
# memory: the full subset against a tenth of it
/usr/bin/time -f %M -o "$W/rss_full" "$PV" metrics --manifest "$SET/bench_subset.tsv" -j 2 -o "$W/m.csv" --no-progress 2>/dev/null
/usr/bin/time -f %M -o "$W/rss_tenth" "$PV" metrics --manifest "$SET/bench_tenth.tsv" -j 2 -o "$W/t.csv" --no-progress 2>/dev/null
nt=$(($(wc -l < "$SET/bench_tenth.tsv") - 1))
echo "peak RSS: $ncases cases $(($(cat "$W/rss_full") / 1024)) MB, $nt cases $(($(cat "$W/rss_tenth") / 1024)) MB"
per=$(echo "$mm $ncases" | awk '{printf "%.4f", $1 / $2}')
echo "cost per case (2 cores): $per s; projected for 2,117 cases:"
for n in 1 2 4 8 16; do
  echo "$per $n" | awk '{printf "  %2d node(s) x 2 cores: %.0f s\n", $2, 2117 * $1 / $2}'
done
