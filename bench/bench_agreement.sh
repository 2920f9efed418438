#!/bin/sh
# bench_agreement.sh - issue 10's performance target: 5 raters on a 512 x 512 x 200 case, all
# pairwise metrics (Dice, HD95, ASSD, kappa...), Fleiss' kappa / Krippendorff's alpha on the
# voxels and binary STAPLE with its consensus map, against the time to just inflate the 5
# .nii.gz files with libdeflate-gunzip (Debian libdeflate-tools). Target: compute <= 4 x inflate.
#
# Usage: bench/bench_agreement.sh [BUILD_DIR]          (default BUILD_DIR: build)
# Environment:
#   BENCH_DIR  folder of the generated case (default /tmp/panseval-bench-agreement)
#   REPS       alternating runs of each side (default 5); medians are reported
#   THREADS    OMP_NUM_THREADS for panseval (default 2)
# The compute time is measured inside tests/agree/bench_agreement.c around the library calls
# (files already read); the read time (ps_volume_read_labels: inflate + parse) is reported too.
set -eu
BUILD=${1:-build}
BENCH=$BUILD/tests/agree/bench_agreement
DIR=${BENCH_DIR:-/tmp/panseval-bench-agreement}
REPS=${REPS:-5}
export OMP_NUM_THREADS=${THREADS:-2}
HERE=$(cd "$(dirname "$0")" && pwd)
command -v libdeflate-gunzip >/dev/null || { echo "bench_agreement: install libdeflate-tools" >&2; exit 1; }
[ -x "$BENCH" ] || { echo "bench_agreement: $BENCH not found (build first)" >&2; exit 1; }
[ -f "$DIR/r5.nii.gz" ] || /usr/bin/python3 "$HERE/make_raters_case.py" "$DIR"

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
: > "$DIR/inflate.txt"; : > "$DIR/read.txt"; : > "$DIR/compute.txt"
i=0
while [ $i -lt "$REPS" ]; do
    s=$(date +%s.%N)
    for f in "$DIR"/r1.nii.gz "$DIR"/r2.nii.gz "$DIR"/r3.nii.gz "$DIR"/r4.nii.gz "$DIR"/r5.nii.gz; do
        libdeflate-gunzip -c "$f" > /dev/null
    done
    e=$(date +%s.%N)
    echo "$e - $s" | bc >> "$DIR/inflate.txt"
    "$BENCH" "$DIR"/r1.nii.gz "$DIR"/r2.nii.gz "$DIR"/r3.nii.gz "$DIR"/r4.nii.gz \
        "$DIR"/r5.nii.gz 2>>"$DIR/steps.txt" > "$DIR/run.txt"
    awk '{print $1}' "$DIR/run.txt" >> "$DIR/read.txt"
    awk '{print $2}' "$DIR/run.txt" >> "$DIR/compute.txt"
    i=$((i + 1))
done
inf=$(median < "$DIR/inflate.txt"); rd=$(median < "$DIR/read.txt"); cp=$(median < "$DIR/compute.txt")
echo "5 raters, 512x512x200, $REPS alternating runs, OMP_NUM_THREADS=$OMP_NUM_THREADS (medians):"
echo "  inflate 5 files (libdeflate-gunzip):  $inf s"
echo "  panseval read 5 files:                $rd s"
echo "  panseval pairs + Fleiss + STAPLE:     $cp s"
echo "  ratio compute / inflate:              $(echo "scale=2; $cp / $inf" | bc)  (target <= 4)"
tail -1 "$DIR/steps.txt"
