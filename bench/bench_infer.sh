#!/bin/sh
# bench_infer.sh [BUILD_DIR] - `panseval infer` against the real nnU-Net v1 predict path
# (PaNSegNet's fork, PyTorch 1.13 CPU) on one CT, both on the same 2 threads, in one run.
#
# The model: bench/infer_nnunet.py make-model (PanSegNet-sized: nnTransUNetTrainerV2, base 32,
# 6 stages, attention d_model 512 x 8 layers, random weights; patch 40 x 224 x 224 and target
# spacing 2.5 x 0.8027 x 0.8027 mm, nnU-Net v1's plan for MSD Task07 pancreas CT as recalled,
# since PaNSegNet ships no plans). The image: bench/infer_nnunet.py make-image, a CT-like
# int16 volume of SIZE voxels (x y z) at 0.8 x 0.8 x 2.5 mm (resampled in-plane; separate z).
# A 512 x 512 x 100 CT is 2 x 4 x 4 = 32 tiles of this patch; with mirroring that is 256 network
# passes (about 40 min for panseval and 2.5 h for PyTorch on this machine), so the default
# SIZE is a reduced CT; ESTIMATE=1 also prints both tools' estimate for the full size.
#
# Rounds alternate the two tools (fresh processes, /usr/bin/time -v for peak memory): REPS
# rounds without mirroring, MREPS rounds with it; medians are reported. The FP32 peak
# (bench/fma_peak.c) is measured before and after the rounds; the convolution GFLOP/s of the
# last network pass of each panseval run (its per-layer table) is held against it.
#
# Peer: PANSEGNET_SRC and BATCHGENERATORS_SRC must point at checkouts of NUBagciLab/PaNSegNet
# src/ and MIC-DKFZ/batchgenerators (see tests/reference/nnunet_predict_reference.py).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-build}
PANSEVAL=${PANSEVAL:-$BUILD/src/cli/panseval}
DIR=${DIR:-/tmp/bench_infer}
SIZE=${SIZE:-"224 224 40"}
REPS=${REPS:-3}
MREPS=${MREPS:-1}
THREADS=${THREADS:-2}
ESTIMATE=${ESTIMATE:-0}
PY=/usr/bin/python3
PEER="$HERE/infer_nnunet.py"
: "${PANSEGNET_SRC:?set PANSEGNET_SRC to PaNSegNet/src}" "${BATCHGENERATORS_SRC:?set BATCHGENERATORS_SRC}"
export PANSEGNET_SRC BATCHGENERATORS_SRC OMP_NUM_THREADS="$THREADS"
mkdir -p "$DIR"
[ -f "$DIR/model/fold_0/model_final_checkpoint.model" ] || $PY "$PEER" make-model "$DIR/model"
# shellcheck disable=SC2086
$PY "$PEER" make-image "$DIR/case_0000.nii.gz" --size $SIZE
echo "# case: $SIZE voxels at 0.8 x 0.8 x 2.5 mm; model $DIR/model; $THREADS threads"

if cc -O3 -fopenmp -march=native "$HERE/fma_peak.c" -o "$DIR/fma_peak" 2>/dev/null; then :; fi
peak() { [ -x "$DIR/fma_peak" ] && "$DIR/fma_peak" "$THREADS" | sed -n 's/.*peak \([0-9.]*\) GFLOP.*/\1/p'; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
rss() { sed -n 's/.*Maximum resident set size (kbytes): \([0-9]*\).*/\1/p' "$1" | awk '{printf "%.0f\n", $1 / 1024}'; }
field() { sed -n "s/.* $2 \([0-9.]*\) s.*/\1/p" "$1" | head -1; }

p0=$(peak || echo 0)
echo "# FP32 peak before: $p0 GFLOP/s ($THREADS threads)"
rm -f "$DIR"/res_*
round() { # $1 = tag (nomirror|mirror), $2 = extra flag
    tag=$1
    PANSEVAL_PROFILE=1 /usr/bin/time -v "$PANSEVAL" infer --model "$DIR/model" --fold 0 \
        --input "$DIR/case_0000.nii.gz" -o "$DIR/seg_c_$tag.nii.gz" -j "$THREADS" -v $2 \
        2>"$DIR/c.log" >/dev/null
    t=$(field "$DIR/c.log" total)
    pre=$(field "$DIR/c.log" preprocessing)
    net=$(field "$DIR/c.log" network)
    ex=$(field "$DIR/c.log" export)
    echo "$t" >>"$DIR/res_c_$tag"
    echo "$pre $ex $t" | awk '{printf "%.4f\n", ($1 + $2) / $3}' >>"$DIR/res_cshare_$tag"
    rss "$DIR/c.log" >>"$DIR/res_cmem_$tag"
    awk '$1 == "total" {print $4}' "$DIR/c.log" | tail -1 >>"$DIR/res_conv_$tag"
    /usr/bin/time -v $PY "$PEER" run --model "$DIR/model" --input "$DIR/case_0000.nii.gz" \
        --output "$DIR/seg_t_$tag.nii.gz" --threads "$THREADS" $2 >"$DIR/t.out" 2>"$DIR/t.log"
    tt=$(sed -n 's/^wall: \([0-9.]*\) s/\1/p' "$DIR/t.out")
    tpre=$(sed -n 's/^preprocess: \([0-9.]*\) s/\1/p' "$DIR/t.out")
    tex=$(sed -n 's/^export: \([0-9.]*\) s/\1/p' "$DIR/t.out")
    echo "$tt" >>"$DIR/res_t_$tag"
    echo "${tpre:-0} ${tex:-0} $tt" | awk '{printf "%.4f\n", ($1 + $2) / $3}' >>"$DIR/res_tshare_$tag"
    # peak: the largest of the time -v figure and the peer's own child figure
    m1=$(rss "$DIR/t.log")
    m2=$(sed -n 's/^peak RSS: .*, \([0-9.]*\) MB (largest child)/\1/p' "$DIR/t.out")
    echo "$m1 ${m2:-0}" | awk '{printf "%.0f\n", ($1 > $2 ? $1 : $2)}' >>"$DIR/res_tmem_$tag"
    echo "  $tag: panseval $t s (pre $pre, network $net, export $ex), nnU-Net $tt s"
}
i=0
while [ "$i" -lt "$REPS" ]; do round nomirror --no-mirroring; i=$((i + 1)); done
i=0
while [ "$i" -lt "$MREPS" ]; do round mirror ""; i=$((i + 1)); done
p1=$(peak || echo 0)
echo "# FP32 peak after: $p1 GFLOP/s"
pk=$(echo "$p0 $p1" | awk '{printf "%.1f", ($1 + $2) / 2}')

for tag in nomirror mirror; do
    [ -s "$DIR/res_c_$tag" ] || continue
    c=$(median <"$DIR/res_c_$tag"); t=$(median <"$DIR/res_t_$tag")
    cm=$(median <"$DIR/res_cmem_$tag"); tm=$(median <"$DIR/res_tmem_$tag")
    cs=$(median <"$DIR/res_cshare_$tag"); ts=$(median <"$DIR/res_tshare_$tag")
    cv=$(median <"$DIR/res_conv_$tag")
    n=$(wc -l <"$DIR/res_c_$tag")
    echo "$tag ($n rounds, medians): panseval $c s, nnU-Net $t s, ratio" \
        "$(echo "$t $c" | awk '{printf "%.2fx", $1 / $2}'); peak memory $cm MiB vs $tm MiB;" \
        "preprocessing+export $(echo "$cs" | awk '{printf "%.1f%%", 100 * $1}') vs" \
        "$(echo "$ts" | awk '{printf "%.1f%%", 100 * $1}') of the total; convolutions" \
        "$cv GFLOP/s = $(echo "$cv $pk" | awk '{printf "%.1f%%", ($2 > 0) ? 100 * $1 / $2 : 0}')" \
        "of the FP32 peak ($pk)"
    # the two label maps: Dice of the foreground
    "$PANSEVAL" metrics --ref "$DIR/seg_t_$tag.nii.gz" --pred "$DIR/seg_c_$tag.nii.gz" \
        --format tsv -o "$DIR/cmp_$tag.tsv" 2>/dev/null &&
        awk -F'\t' 'NR == 1 {for (i = 1; i <= NF; i++) h[$i] = i; next}
                    {printf "  label %s: Dice %s (tp %s fp %s fn %s)\n", $h["label"], $h["dice"],
                     $h["tp"], $h["fp"], $h["fn"]}' "$DIR/cmp_$tag.tsv"
done
awk '/^# forward pass/ {buf = ""} {buf = buf $0 "\n"} /^# oneDNN/ {last = buf} END {printf "%s", last}' "$DIR/c.log"
if [ "$ESTIMATE" = 1 ]; then
    $PY "$PEER" make-image "$DIR/full_0000.nii.gz" --size 512 512 100
    $PY "$PEER" run --model "$DIR/model" --input "$DIR/full_0000.nii.gz" --output "$DIR/x.nii.gz" \
        --threads "$THREADS" --estimate 2>/dev/null | sed 's/^/nnU-Net full size: /'
fi
