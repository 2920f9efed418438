#!/bin/sh
# bench_forward.sh - forward pass of a PanSegNet-sized network: panseval (C, oneDNN) against
# PyTorch CPU (Debian's python3-torch, torch.set_num_threads(N), torch.no_grad()).
#
# Usage: bench/bench_forward.sh [BUILD_DIR]          (default BUILD_DIR: build)
# Environment:
#   BENCH_DIR  working folder for the random-weight model and outputs
#              (default /tmp/panseval-bench-forward; nothing is written to the repository)
#   PATCH      "D H W" patch size (default "64 128 128")
#   REPS       runs per side, alternating C and PyTorch so both see the same machine load
#              (default 3); medians are reported
#   THREADS    threads for both sides (default 2)
#   ATTENTION  1 (default) for PanSegNet's attention bottleneck, 0 for a plain Generic_UNet
#   EFF_REPS   rounds of the convolution-efficiency measurement (default 5, 0 skips it)
#
# Each run is a fresh process timed by /usr/bin/time -v (peak resident memory, CPU time); the
# forward-pass time is the one each program reports around the network call alone (model
# loading and file I/O excluded). The per-layer-group table of the last C run follows.
#
# Convolution efficiency: on a shared machine the FP32 peak itself moves (other guests on the
# same cores), so each round measures the sustained peak (fma_peak, median of 9) right before
# and right after a `panseval forward --repeat 3` whose passes 2 and 3 (the feature-map arena already
# faulted in, as in sliding-window inference) give the convolution GFLOP/s of the whole
# network (all convolution FLOP / time inside the convolution primitives, from the -v -v
# table), held against the mean of the two peaks. The median ratio over all passes is printed.
set -eu

BUILD=${1:-build}
PANSEVAL=$BUILD/src/cli/panseval
DIR=${BENCH_DIR:-/tmp/panseval-bench-forward}
PATCH=${PATCH:-64 128 128}
REPS=${REPS:-3}
EFF_REPS=${EFF_REPS:-5}
THREADS=${THREADS:-2}
ATTENTION=${ATTENTION:-1}
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)

[ -x "$PANSEVAL" ] || { echo "bench_forward: $PANSEVAL not found (build first)" >&2; exit 1; }
mkdir -p "$DIR"
MODEL=$DIR/model_$(echo "$PATCH" | tr ' ' x)_att$ATTENTION
if [ ! -f "$MODEL/fold_0/model_final_checkpoint.model" ]; then
    att=""
    [ "$ATTENTION" = 1 ] && att="--attention"
    # shellcheck disable=SC2086
    $PY "$HERE/forward_torch.py" make "$MODEL" --patch $PATCH $att
fi

echo "== machine"
lscpu | grep -E '^Model name|^CPU\(s\)' | sed 's/  */ /g'
if cc -O3 -fopenmp -march=native "$HERE/fma_peak.c" -o "$DIR/fma_peak" 2>/dev/null; then
    "$DIR/fma_peak" 1
    "$DIR/fma_peak" "$THREADS"
fi
if cc -O2 -fopenmp "$HERE/conv_bench.c" -ldnnl -o "$DIR/conv_bench" 2>/dev/null; then
    echo "== oneDNN convolutions alone, $THREADS thread(s): channels last (panseval) vs blocked"
    "$DIR/conv_bench" "$THREADS"
    [ -x "$DIR/fma_peak" ] && "$DIR/fma_peak" "$THREADS"
fi
uptime

# field <file> <regex> : the first number after the regex
field() { sed -n "s/.*$2 *\([0-9.][0-9.]*\).*/\1/p" "$1" | head -n 1; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

: > "$DIR/c_times"; : > "$DIR/t_times"; : > "$DIR/c_rss"; : > "$DIR/t_rss"
: > "$DIR/c_cpu"; : > "$DIR/t_cpu"
i=1
while [ "$i" -le "$REPS" ]; do
    PANSEVAL_PROFILE=1 /usr/bin/time -v "$PANSEVAL" forward --model "$MODEL" \
        --input "$MODEL/input.nii.gz" -o "$DIR/logits_c.nii.gz" -j "$THREADS" -v \
        > "$DIR/c_run.log" 2>&1
    field "$DIR/c_run.log" 'forward pass:' >> "$DIR/c_times"
    field "$DIR/c_run.log" 'Maximum resident set size (kbytes):' >> "$DIR/c_rss"
    u=$(field "$DIR/c_run.log" 'User time (seconds):'); s=$(field "$DIR/c_run.log" 'System time (seconds):')
    echo "$u $s" | awk '{print $1 + $2}' >> "$DIR/c_cpu"
    out=""
    [ "$i" -eq "$REPS" ] && out="--output $DIR/logits_torch.nii.gz"
    # shellcheck disable=SC2086
    /usr/bin/time -v $PY "$HERE/forward_torch.py" run "$MODEL" --threads "$THREADS" --repeat 1 \
        $out > "$DIR/t_run.log" 2>&1
    field "$DIR/t_run.log" 'torch forward: run 1:' >> "$DIR/t_times"
    field "$DIR/t_run.log" 'Maximum resident set size (kbytes):' >> "$DIR/t_rss"
    u=$(field "$DIR/t_run.log" 'User time (seconds):'); s=$(field "$DIR/t_run.log" 'System time (seconds):')
    echo "$u $s" | awk '{print $1 + $2}' >> "$DIR/t_cpu"
    echo "run $i: C $(tail -n 1 "$DIR/c_times") s, torch $(tail -n 1 "$DIR/t_times") s"
    i=$((i + 1))
done

ct=$(median < "$DIR/c_times"); tt=$(median < "$DIR/t_times")
cr=$(median < "$DIR/c_rss"); tr=$(median < "$DIR/t_rss")
cc_=$(median < "$DIR/c_cpu"); tc=$(median < "$DIR/t_cpu")
gflop=$(sed -n 's/.* \([0-9.]*\) GFLOP per pass.*/\1/p' "$DIR/c_run.log" | head -n 1)
echo "== forward pass, patch $PATCH, $THREADS thread(s), attention $ATTENTION, median of $REPS"
awk -v ct="$ct" -v tt="$tt" -v cr="$cr" -v tr="$tr" -v cc="$cc_" -v tc="$tc" -v g="$gflop" 'BEGIN {
    printf "%-22s %12s %12s %10s\n", "", "panseval", "pytorch", "ratio";
    printf "%-22s %12.3f %12.3f %9.2fx\n", "forward wall (s)", ct, tt, tt / ct;
    printf "%-22s %12.1f %12.1f\n", "GFLOP/s (wall)", g / ct, g / tt;
    printf "%-22s %12.1f %12.1f %9.2fx\n", "process CPU (s)", cc, tc, tc / cc;
    printf "%-22s %12.0f %12.0f %9.2fx\n", "peak RSS (MiB)", cr / 1024, tr / 1024, tr / cr;
}'
$PY - "$DIR/logits_c.nii.gz" "$DIR/logits_torch.nii.gz" <<'EOF'
import sys
import nibabel as nib
import numpy as np
a = np.asanyarray(nib.load(sys.argv[1]).dataobj)
b = np.asanyarray(nib.load(sys.argv[2]).dataobj)
print('max |logit C - logit torch| = %.3g (logit range %.3g .. %.3g)'
      % (np.abs(a - b).max(), b.min(), b.max()))
EOF
echo "== per-layer-group table of the last C run"
sed -n '/^# forward pass/,/^total/p' "$DIR/c_run.log"

if [ "$EFF_REPS" -gt 0 ] && [ -x "$DIR/fma_peak" ]; then
    echo "== convolution efficiency, $THREADS thread(s), $EFF_REPS rounds"
    : > "$DIR/eff"
    i=1
    while [ "$i" -le "$EFF_REPS" ]; do
        p0=$("$DIR/fma_peak" "$THREADS" | sed -n 's/.*peak \([0-9.]*\) GFLOP.*/\1/p')
        PANSEVAL_PROFILE=1 "$PANSEVAL" forward --model "$MODEL" --input "$MODEL/input.nii.gz" \
            -o "$DIR/logits_c.nii.gz" -j "$THREADS" --repeat 3 > "$DIR/eff_run.log" 2>&1
        p1=$("$DIR/fma_peak" "$THREADS" | sed -n 's/.*peak \([0-9.]*\) GFLOP.*/\1/p')
        peak=$(echo "$p0 $p1" | awk '{printf "%.1f", ($1 + $2) / 2}')
        # conv GFLOP/s of passes 2 and 3 (column 4 of the "total" lines)
        convs=$(awk '$1 == "total" {n++; if (n > 1) print $4}' "$DIR/eff_run.log")
        for c in $convs; do
            echo "$c $peak" | awk '{printf "%.4f\n", $1 / $2}' >> "$DIR/eff"
        done
        echo "round $i: FP32 peak $p0 before, $p1 after; convolutions $(echo $convs | tr ' ' '/') GFLOP/s"
        i=$((i + 1))
    done
    med=$(median < "$DIR/eff")
    echo "median convolution efficiency: $(echo "$med" | awk '{printf "%.1f%%", 100 * $1}') of the FP32 peak ($(wc -l < "$DIR/eff") passes)"
    echo "== per-layer-group table, last pass of the last round"
    awk '/^# forward pass/ {buf = ""} {buf = buf $0 "\n"} /^# oneDNN/ {last = buf} END {printf "%s", last}' "$DIR/eff_run.log"
fi
