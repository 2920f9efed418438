#!/bin/sh
# Benchmark of `panseval metrics` (paths must not contain spaces) (issue 2, section 8), every tool in the same run:
#   - panseval metrics (dice + hd95 + assd + nsd) on a 512x512x200 uint8 pancreas-like pair,
#     spacing 0.78 x 0.78 x 2.5 mm, .nii.gz;
#   - plastimatch dice --all on the same files (Debian plastimatch);
#   - a scipy script in MedPy style (full-volume EDT), bench/medpy_style.py;
#   - libdeflate-gunzip of both files: the time needed just to decompress them;
#   - peak memory (max RSS) of panseval against the uncompressed size of the two volumes;
#   - a 200-case manifest with -j 2: peak memory must not grow with the number of cases.
# Reports medians of RUNS runs (default 21; scipy 3) and ratios. Usage: bench/bench_metrics.sh
set -eu
cd "$(dirname "$0")/.."
RUNS=${RUNS:-21}
PV=${PANSEVAL:-build/src/cli/panseval}
W=${BENCH_DIR:-/tmp/panseval-bench}
mkdir -p "$W"
[ -f "$W/ref.nii.gz" ] || /usr/bin/python3 bench/make_bench_case.py "$W"
command -v libdeflate-gunzip >/dev/null || { echo "needs libdeflate-tools (apt-get install libdeflate-tools)"; exit 1; }
command -v plastimatch >/dev/null || { echo "needs plastimatch (apt-get install plastimatch)"; exit 1; }
command -v hyperfine >/dev/null || { echo "needs hyperfine (apt-get install hyperfine)"; exit 1; }

# time_cmd N 'COMMAND': the median wall time (s) of N runs (hyperfine, 2 warm-up runs, shell
# start-up subtracted) and the largest max-RSS (KB) of 3 runs under /usr/bin/time.
time_cmd() {
  hyperfine --runs "$1" --warmup 2 --export-json "$W/h.json" "$2" >/dev/null 2>&1 ||
    { echo "failed: $2" >&2; exit 1; }
  med=$(/usr/bin/python3 -c "import json; print('%.4f' % json.load(open('$W/h.json'))['results'][0]['median'])")
  rss=0
  for i in 1 2 3; do
    /usr/bin/time -f "%M" -o "$W/t1" sh -c "$2" >/dev/null 2>&1
    r=$(cat "$W/t1"); [ "$r" -gt "$rss" ] && rss=$r
  done
  echo "$med $rss"
}

echo "case: $(ls -l "$W/ref.nii.gz" | awk '{print $5}') + $(ls -l "$W/pred.nii.gz" | awk '{print $5}') bytes compressed, 2 x 52428800 voxels"
set -- $(time_cmd "$RUNS" "libdeflate-gunzip -c $W/ref.nii.gz >/dev/null && libdeflate-gunzip -c $W/pred.nii.gz >/dev/null")
t_inflate=$1
set -- $(time_cmd "$RUNS" "$PV metrics --ref $W/ref.nii.gz --pred $W/pred.nii.gz -o $W/ps.csv")
t_ps=$1; rss_ps=$2
set -- $(time_cmd "$RUNS" "$PV metrics --ref $W/ref.nii.gz --pred $W/pred.nii.gz -j 1 -o $W/ps1.csv")
t_ps1=$1
set -- $(time_cmd "$RUNS" "plastimatch dice --all $W/ref.nii.gz $W/pred.nii.gz")
t_plm=$1
set -- $(time_cmd 3 "/usr/bin/python3 bench/medpy_style.py $W/ref.nii.gz $W/pred.nii.gz")
t_py=$1

raw_kb=$(( 2 * (512 * 512 * 200 + 352) / 1024 ))
echo
printf "%-44s %9s %10s\n" "tool" "median s" "ratio"
printf "%-44s %9.4f %10s\n" "panseval metrics (-j 2)" "$t_ps" "1"
printf "%-44s %9.4f %10s\n" "panseval metrics (-j 1)" "$t_ps1" "$(echo "$t_ps1 $t_ps" | awk '{printf "%.2f", $1/$2}')"
printf "%-44s %9.4f %10s\n" "libdeflate-gunzip of both files (1 thread)" "$t_inflate" "$(echo "$t_inflate $t_ps" | awk '{printf "%.2f", $1/$2}')"
printf "%-44s %9.4f %10s\n" "plastimatch dice --all" "$t_plm" "$(echo "$t_plm $t_ps" | awk '{printf "%.1f", $1/$2}')"
printf "%-44s %9.4f %10s\n" "scipy MedPy-style (full-volume EDT)" "$t_py" "$(echo "$t_py $t_ps" | awk '{printf "%.1f", $1/$2}')"
echo
echo "panseval / decompression only: $(echo "$t_ps $t_inflate" | awk '{printf "%.2f", $1/$2}') (target <= 2)"
echo "plastimatch / panseval:        $(echo "$t_plm $t_ps" | awk '{printf "%.1f", $1/$2}') (target >= 20)"
echo "scipy / panseval:              $(echo "$t_py $t_ps" | awk '{printf "%.1f", $1/$2}') (target >= 200)"
echo "panseval peak memory: $rss_ps KB = $(echo "$rss_ps $raw_kb" | awk '{printf "%.2f", $1/$2}') x the two uncompressed volumes ($raw_kb KB) (target < 3)"

# ---- 200 cases, -j 2: memory must not grow with the number of cases -----------------------
for n in 10 200; do
  { printf "case\tmodality\tref\tpred:bench\n"
    i=0; while [ $i -lt $n ]; do printf "c%03d\tCT\tref.nii.gz\tpred.nii.gz\n" $i; i=$((i + 1)); done
  } >"$W/manifest$n.tsv"
done
set -- $(time_cmd 2 "$PV metrics --manifest $W/manifest10.tsv -j 2 -o $W/m10.csv")
t10=$1; rss10=$2
set -- $(time_cmd 1 "$PV metrics --manifest $W/manifest200.tsv -j 2 -o $W/m200.csv")
t200=$1; rss200=$2
echo "manifest of 10 cases,  -j 2: $t10 s, peak $rss10 KB"
echo "manifest of 200 cases, -j 2: $t200 s, peak $rss200 KB ($(echo "$rss200 $rss10" | awk '{printf "%.2f", $1/$2}') x the 10-case peak)"
