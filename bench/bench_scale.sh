#!/bin/sh
# The paper-scale benchmark of issue 11 (figures in docs/cluster.md):
#   - the synthetic set of bench/gen_scale.c (2,117 cases: 1,350 CT 512x512x(80-250), 767 MRI
#     320x260x(40-80), two models), or every EVERY-th case of it (same CT/MRI mix);
#   - `panseval metrics -j 2` (both models: Dice, HD95, ASSD, NSD, ...) against the time to
#     only read and inflate every file once (bench/inflate_only.c: libdeflate, 2 threads),
#     and against panseval's own reader alone (bench/read_only.c: the sparse inflate);
#   - peak memory (max RSS): one case repeated 10 and 100 times must peak the same;
#   - `mpirun -n 2 ... --mpi -j 1` against one process with -j 2 and `mpirun -n 1 --mpi -j 2`;
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
if [ ! -f "$SET/manifest.tsv" ]; then
  cc -O2 -fopenmp -I/usr/include/nifti bench/gen_scale.c -ldeflate -lm -o "$W/gen_scale"
  "$W/gen_scale" "$SET"
fi
# the subset manifest: every EVERY-th case (paths stay relative to SET)
awk -v e="$EVERY" 'BEGIN{FS="\t"} /^#/ {next} !h {print; h=1; next} {if ((n++ % e) == 0) print}' \
  "$SET/manifest.tsv" > "$SET/bench_subset.tsv"
ncases=$(($(wc -l < "$SET/bench_subset.tsv") - 1))
# the files metrics reads: ref, pred:modelA, pred:modelB (columns 5, 7, 8)
awk 'BEGIN{FS="\t"} NR > 1 {print $5; print $7; print $8}' "$SET/bench_subset.tsv" |
  sed "s|^|$SET/|" > "$W/files"
nfiles=$(wc -l < "$W/files")
echo "set: $SET, $ncases cases (every ${EVERY}th of $(($(grep -vc '^#' "$SET/manifest.tsv") - 1))), $nfiles files, $(du -ch $(cat "$W/files") | tail -1 | cut -f1) compressed"

t() { # "wall,cpu" seconds of the shell command $1 (cpu = user + system, children included)
  /usr/bin/time -f "%e %U %S" -o "$W/time" sh -c "$1" >/dev/null 2>"$W/err" ||
    { echo "failed (status $?): $1" >&2; tail -5 "$W/err" >&2; exit 1; }
  awk '{printf "%.2f,%.2f", $1, $2 + $3}' "$W/time"
}
cc -O2 -fopenmp bench/inflate_only.c -ldeflate -o "$W/inflate_only"
inflate="$W/inflate_only 2 < $W/files"
# panseval's own reader alone (the sparse inflate of label maps), linked to the build's library
lib=$(dirname "$(dirname "$(dirname "$PV")")")
cc -O2 -fopenmp -Isrc/core -Isrc/io -I"$lib" bench/read_only.c -L"$lib" -l:libpanseval.so.0.1.0 \
  -Wl,-rpath,"$(cd "$lib" && pwd)" -o "$W/read_only"
readonly_="$W/read_only 2 < $W/files"
# the baseline of bench/bench_metrics.sh: libdeflate-gunzip of every file (fresh buffers and
# the output written, as a program that needs the voxels in new memory pays)
gunzip="xargs -P 2 -n 16 libdeflate-gunzip -c < $W/files > /dev/null"
metrics="$PV metrics --manifest $SET/bench_subset.tsv -j 2 -o $W/m.csv --no-progress"
mpi2="mpirun -n 2 --oversubscribe --allow-run-as-root $PV metrics --manifest \
  $SET/bench_subset.tsv --mpi -j 1 -o $W/mpi.csv --no-progress"
# one rank with 2 threads needs its 2 cores: OpenMPI binds a rank to one core by default
mpi1="mpirun -n 1 --map-by slot:PE=2 --allow-run-as-root $PV metrics --manifest \
  $SET/bench_subset.tsv --mpi -j 2 -o $W/mpi1.csv --no-progress"
median() { # median of field $1 (1 wall, 2 cpu) of "wall,cpu" words on stdin
  tr ' ' '\n' | grep . | cut -d, -f"$1" | sort -n | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'
}

ti=""; tm=""; tp=""; tg=""; tr=""; t1=""
for r in $(seq "$RUNS"); do
  ti="$ti $(t "$inflate")"
  tr="$tr $(t "$readonly_")"
  if command -v libdeflate-gunzip >/dev/null; then tg="$tg $(t "$gunzip")"; fi
  tm="$tm $(t "$metrics")"
  if command -v mpirun >/dev/null && "$PV" metrics --help | grep -q -- --mpi; then
    tp="$tp $(t "$mpi2")"
    t1="$t1 $(t "$mpi1")"
  fi
done
mi=$(echo $ti | median 1); mm=$(echo $tm | median 1)
ci=$(echo $ti | median 2); cm=$(echo $tm | median 2)
echo "runs as wall,cpu seconds"
echo "inflate only (2 threads):          runs$ti; median wall $mi s, cpu $ci s"
if [ -n "$tg" ]; then
  mg=$(echo $tg | median 1); cg=$(echo $tg | median 2)
  echo "libdeflate-gunzip (2 processes):   runs$tg; median wall $mg s, cpu $cg s"
fi
mr=$(echo $tr | median 1); cr=$(echo $tr | median 2)
echo "panseval read only (2 threads):    runs$tr; median wall $mr s, cpu $cr s (ps_volume_read_labels_map)"
echo "panseval metrics -j 2:             runs$tm; median wall $mm s, cpu $cm s"
echo "ratio metrics / inflate:           wall $(echo "$mm $mi" | awk '{printf "%.2f", $1 / $2}'), cpu $(echo "$cm $ci" | awk '{printf "%.2f", $1 / $2}') (target <= 1.3)"
echo "ratio metrics / panseval read only: wall $(echo "$mm $mr" | awk '{printf "%.2f", $1 / $2}'), cpu $(echo "$cm $cr" | awk '{printf "%.2f", $1 / $2}') (the metrics proper)"
[ -n "$tg" ] && echo "ratio metrics / libdeflate-gunzip: wall $(echo "$mm $mg" | awk '{printf "%.2f", $1 / $2}'), cpu $(echo "$cm $cg" | awk '{printf "%.2f", $1 / $2}')"
if [ -n "$tp" ]; then
  mp=$(echo $tp | median 1); cp=$(echo $tp | median 2)
  echo "mpirun -n 2 --mpi -j 1:            runs$tp; median wall $mp s, cpu $cp s"
  echo "ratio 2 ranks x 1 / 1 rank x 2:    wall $(echo "$mp $mm" | awk '{printf "%.2f", $1 / $2}'), cpu $(echo "$cp $cm" | awk '{printf "%.2f", $1 / $2}') (target <= 1.10)"
  m1=$(echo $t1 | median 1); c1=$(echo $t1 | median 2)
  echo "mpirun -n 1 --map-by slot:PE=2 --mpi -j 2: runs$t1; median wall $m1 s, cpu $c1 s"
  echo "ratio 2 ranks x 1 / mpirun 1 x 2:  wall $(echo "$mp $m1" | awk '{printf "%.2f", $1 / $2}'), cpu $(echo "$cp $c1" | awk '{printf "%.2f", $1 / $2}')"
  cmp -s "$W/m.csv" "$W/mpi.csv" && cmp -s "$W/m.csv" "$W/mpi1.csv" &&
    echo "mpirun output (1 and 2 ranks): byte-identical to one process"
fi
# memory over a run: the largest case of the subset repeated 10 and 100 times (distinct case
# ids): the peak must not grow with the number of cases
big=$(awk 'BEGIN{FS="\t"} NR > 1 {print $1, $5}' "$SET/bench_subset.tsv" |
  while read -r c r; do echo "$(stat -c %s "$SET/$r") $c"; done | sort -n | tail -1 | cut -d' ' -f2)
for k in 10 100; do
  awk -v k="$k" -v c="$big" 'BEGIN{FS=OFS="\t"} /^#/ {next} !h {print; h=1; next}
       $1 == c {for (i = 0; i < k; i++) {$1 = c "_" i; $2 = $1; print}; exit}' \
    "$SET/manifest.tsv" > "$SET/bench_rep$k.tsv"
  /usr/bin/time -f %M -o "$W/rss$k" "$PV" metrics --manifest "$SET/bench_rep$k.tsv" -j 2 \
    -o "$W/r.csv" --no-progress 2>/dev/null
done
echo "peak RSS, case $big (the subset's largest reference file) x10: $(($(cat "$W/rss10") / 1024)) MB, x100: $(($(cat "$W/rss100") / 1024)) MB"
per=$(echo "$mm $ncases" | awk '{printf "%.4f", $1 / $2}')
# (wall time per case of the -j 2 run; a node with C cores: about per * 2 / C)
echo "cost per case (2 cores): $per s; projected for 2,117 cases:"
for n in 1 2 4 8 16; do
  echo "$per $n" | awk '{printf "  %2d node(s) x 2 cores: %.0f s\n", $2, 2117 * $1 / $2}'
done
