#!/bin/sh
# bench_infer_mpi.sh [BUILD_DIR] - a 20-case `panseval infer --manifest` run on one process
# and over 2 MPI ranks, and a projection of the 2,117-case study from the measured cost.
#
# Model and data: the bundled demo model (models/demo-pancreas: nnU-Net v1 Generic_UNet, patch
# 24 x 64 x 64 at 4 x 2 x 2 mm, one fold) and the first 20 images of the synthetic demo set
# (`panseval demo-data`: CT- and MRI-like int16 volumes of 160-180 x 120-140 x 15-30 voxels
# at 0.7-1.5 mm in-plane, 2.5-6 mm slices), with the default options (mirroring: 8 passes a
# tile, step 0.5, postprocessing as the model has none).
#
# Three configurations, REPS rounds each, alternating within a round (fresh processes):
#   one_j2   one process, -j 2 (OpenMP threads over both cores)
#   mpi2_j1  mpirun -n 2 --mpi -j 1 (two ranks, one thread each, the work queue of rank 0)
#   mpi1_j1  mpirun -n 1 --mpi -j 1 (the per-case cost of one core, through the MPI path)
# Medians of the wall times are reported (date +%s.%N around each run), and the outputs of
# every run are compared byte for byte with the first mpi1_j1 run (predictions and manifest
# copy): a mismatch stops the script.
#
# Projection: the study of 2,117 cases, 1,350 CT of 512 x 512 x (80-250) voxels and 767 MRI
# of 320 x 260 x (40-80) (uniform slice counts, so the means 165 and 60), from the measured
# cost per input voxel. ASSUMPTION: the cost of a case is proportional to the voxel count of
# its input image (as with this model and the demo set's spacings, where the resampled grid
# scales with the input), with the same model, options and the same kind of node (2 cores,
# 2 ranks x 1 thread); a real PanSegNet model costs far more per voxel (bench/bench_infer.sh).
# Node-hours are wall time x nodes: N nodes divide the wall time by N (the work queue hands
# out cases dynamically; the per-case results sent to rank 0 are a few hundred bytes).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-build}
PANSEVAL=${PANSEVAL:-$BUILD/src/cli/panseval}
MODEL=${MODEL:-$HERE/../models/demo-pancreas}
DIR=${DIR:-/tmp/bench_infer_mpi}
REPS=${REPS:-3}
NCASES=${NCASES:-20}
MPIRUN=${MPIRUN:-mpirun --oversubscribe --allow-run-as-root}
command -v mpirun >/dev/null || { echo "mpirun not found (scripts/deps.sh --mpi)" >&2; exit 1; }
rm -rf "$DIR"; mkdir -p "$DIR"
"$PANSEVAL" demo-data --out "$DIR/demo" -q -j 2
grep -v '^#' "$DIR/demo/manifest.tsv" | awk -F'\t' -v n="$NCASES" \
  'NR == 1 { print "case\timage" } NR > 1 && NR <= n + 1 { print $1 "\t" $5 }' >"$DIR/demo/m.tsv"
# input voxels of the 20 cases (NIfTI-1 dims, read with the shell: no python needed)
vox=0
for f in $(awk -F'\t' 'NR > 1 { print $2 }' "$DIR/demo/m.tsv"); do
  case $f in /*) p=$f ;; *) p=$DIR/demo/$f ;; esac
  d=$(gzip -dc "$p" | head -c 56 | od -An -t d2 -j 40 -N 8)
  v=$(echo "$d" | awk '{ print $2 * $3 * $4 }')
  vox=$((vox + v))
done
echo "# $NCASES cases, $vox input voxels in all; model $MODEL; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"

now() { date +%s.%N; }
median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
run() { # $1 = tag, then the command prefix
  tag=$1; shift
  rm -rf "$DIR/out"
  t0=$(now)
  "$@" "$PANSEVAL" infer --model "$MODEL" --manifest "$DIR/demo/m.tsv" --name demo \
    --out-dir "$DIR/out" -o "$DIR/out.tsv" $ARGS >"$DIR/$tag.log" 2>&1
  t1=$(now)
  echo "$t0 $t1" | awk '{ printf "%.3f\n", $2 - $1 }' >>"$DIR/res_$tag"
  if [ -d "$DIR/ref" ]; then
    for f in "$DIR/ref"/*.nii.gz; do
      cmp -s "$f" "$DIR/out/$(basename "$f")" || { echo "$tag: $(basename "$f") differs" >&2; exit 1; }
    done
    cmp -s "$DIR/ref.tsv" "$DIR/out.tsv" || { echo "$tag: the manifest copy differs" >&2; exit 1; }
  else
    mv "$DIR/out" "$DIR/ref"; cp "$DIR/out.tsv" "$DIR/ref.tsv"
  fi
  echo "  $tag: $(tail -n 1 "$DIR/res_$tag") s"
}
i=0
while [ "$i" -lt "$REPS" ]; do
  i=$((i + 1))
  echo "# round $i"
  ARGS="--mpi -j 1"; run mpi1_j1 $MPIRUN -n 1
  ARGS="-j 2"; run one_j2 env
  ARGS="--mpi -j 1"; run mpi2_j1 $MPIRUN -n 2
done
one1=$(median <"$DIR/res_mpi1_j1")
one2=$(median <"$DIR/res_one_j2")
mpi2=$(median <"$DIR/res_mpi2_j1")
echo "# outputs: byte-identical in every run (predictions and manifest copy)"
awk -v n="$NCASES" -v vox="$vox" -v a="$one1" -v b="$one2" -v c="$mpi2" 'BEGIN {
  printf "\n20-case infer, medians of the wall time:\n"
  printf "  mpirun -n 1 --mpi -j 1:      %7.2f s  (%.3f s a case on one core)\n", a, a / n
  printf "  one process -j 2:            %7.2f s  (%.3f s a case)\n", b, b / n
  printf "  mpirun -n 2 --mpi -j 1:      %7.2f s  (%.3f s a case; %.2fx the -j 2 run)\n", c, c / n, c / b
  best = b < c ? b : c
  pv = c / vox   # seconds per input voxel, one 2-core node as 2 ranks x 1 thread
  ct = 1350 * 512 * 512 * 165; mr = 767 * 320 * 260 * 60
  tot = (ct + mr) * pv
  printf "\nProjection, 2,117 cases (1,350 CT 512x512x(80-250), mean 165 slices; 767 MRI\n"
  printf "320x260x(40-80), mean 60), from %.3g s per input voxel (mpirun -n 2 -j 1 on this node;\n", pv
  printf "assumption: cost proportional to the input voxel count, same model and options):\n"
  printf "  CT  %.3g voxels, %.1f s a case;  MRI %.3g voxels, %.1f s a case\n", ct, ct / 1350 * pv, mr, mr / 767 * pv
  printf "  one node: %.0f s = %.2f node-hours; %.0f cases per node-hour\n", tot, tot / 3600, 2117 / (tot / 3600)
  for (k = 1; k <= 16; k *= 2)
    printf "  %2d node(s): %8.1f min wall, %.2f node-hours\n", k, tot / k / 60, tot / 3600
}'
