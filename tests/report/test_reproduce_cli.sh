# test_reproduce_cli.sh - `panseval reproduce` end to end on the demo data with one broken
# prediction: every file, the numbers equal those of the single commands (summary, compare,
# volume), the output is the same for -j1 and -j3, the failed case is an error row and the
# reports are still written, usage errors.
. "$PS_TEST_SRCDIR/cli/cli_lib.sh"
dir=$PS_TEST_TMPDIR/reproduce_cli
rm -rf "$dir"
mkdir -p "$dir"
"$PANSEVAL" demo-data --out "$dir/data" --seed 1 -q >/dev/null 2>&1
check_status "demo-data" 0 $?
# one prediction truncated: that case fails, the others go on
head -c 100 "$dir/data/preds/modelA/t1w03.nii.gz" >"$dir/t" && mv "$dir/t" "$dir/data/preds/modelA/t1w03.nii.gz"

"$PANSEVAL" reproduce --manifest "$dir/data/manifest.tsv" --out "$dir/r1" --baseline modelB -j 1 \
  --no-progress >"$dir/out1.txt" 2>"$dir/err1.txt"
check_status "exit 1: one evaluation failed" 1 $?
check_contains "the failure is reported" "$dir/err1.txt" "1 of 144 evaluation(s) failed"
check_contains "prints the per-modality table" "$dir/out1.txt" "| modelA | T1W | 8 | 7 | 0 | 1 |"
check_contains "prints the report's path" "$dir/out1.txt" "Report: $dir/r1/report.html"
for f in per_case.csv per_case_raters.csv by_modality.csv by_center.csv cross_center.csv \
         compare.csv volume.csv raters.csv published.csv by_modality.json by_center.json \
         cross_center.json compare.json volume.json raters.json published.json report.md \
         report.tex report.html summary_modelA.json summary_modelB.json per_case.csv.meta.json; do
  check_true "writes $f" test -s "$dir/r1/$f"
done
check_contains "error row in per_case.csv" "$dir/r1/per_case.csv" "t1w03,modelA,"
check_contains "the report shows the failed row" "$dir/r1/report.html" 'id="per_case-t1w03-modelA-"'

# -j3: the same bytes
"$PANSEVAL" reproduce --manifest "$dir/data/manifest.tsv" --out "$dir/r3" --baseline modelB -j 3 \
  -q --no-progress 2>/dev/null
for f in per_case.csv by_modality.csv compare.csv volume.csv raters.csv report.html report.md \
         report.tex summary_modelA.json; do
  check_same "-j1 and -j3 give the same $f" "$dir/r1/$f" "$dir/r3/$f"
done

# mpirun -n 2|3 --mpi: the per-case tables and the multi-rater agreement over the ranks, rank 0
# writes every file: the folder of the one-process run, byte for byte ($1 = mpi when the build
# has MPI and mpirun is there; see meson.build)
if [ "${1:-}" = mpi ]; then
  for k in 2 3; do
    mpirun -n $k --oversubscribe --allow-run-as-root "$PANSEVAL" reproduce --mpi \
      --manifest "$dir/data/manifest.tsv" --out "$dir/rm$k" --baseline modelB -j 1 -q \
      --no-progress >/dev/null 2>"$dir/rm$k.err"
    check_status "mpirun -n $k reproduce --mpi: exit 1 (the failed evaluation)" 1 $?
    if diff -r "$dir/r1" "$dir/rm$k" >"$dir/rm$k.diff" 2>&1; then
      pass "mpirun -n $k reproduce --mpi: the files of one process (agreement tables included)"
    else
      fail "mpirun -n $k reproduce --mpi: the files of one process" "$(head -c 400 "$dir/rm$k.diff")"
    fi
  done
  check_true "the MPI run wrote the agreement tables" test -s "$dir/rm3/agreement_pairs.csv"
fi

# The numbers are those of the single commands on per_case.csv.
col() { # col FILE NAME [FILTER_COL FILTER_VALUE]: the column's cells, in row order
  awk -F, -v name="$2" -v fc="$3" -v fv="$4" 'NR == 1 { for (i = 1; i <= NF; i++) { if ($i == name) c = i; if ($i == fc) k = i } next }
    fc == "" || $k == fv { print $c }' "$1"
}
"$PANSEVAL" summary "$dir/r1/per_case.csv" --by model,modality --metrics hd95,assd --format csv \
  -o "$dir/summary.csv" 2>/dev/null
for m in hd95_mean hd95_sd hd95_median assd_mean n_error; do
  col "$dir/summary.csv" $m >"$dir/a"; col "$dir/r1/by_modality.csv" $m >"$dir/b"
  check_same "by_modality $m = summary's" "$dir/a" "$dir/b"
done
"$PANSEVAL" compare "$dir/r1/per_case.csv" --metric dice,hd95 --a modelA --b modelB --by modality \
  --format csv -o "$dir/compare.csv" 2>/dev/null
for m in n mean_diff t p_t ci_low ci_high wilcoxon_v p_wilcoxon; do
  col "$dir/compare.csv" $m >"$dir/a"; col "$dir/r1/compare.csv" $m >"$dir/b"
  check_same "compare $m = compare's" "$dir/a" "$dir/b"
done
# one model against the baseline: Holm across the table is compare's own correction
col "$dir/compare.csv" p_t_adj >"$dir/a"; col "$dir/r1/compare.csv" p_t_holm >"$dir/b"
check_same "compare p_t_holm = compare's p_t_adj" "$dir/a" "$dir/b"
"$PANSEVAL" volume "$dir/r1/per_case.csv" --by model,modality --format csv -o "$dir/volume.csv" 2>/dev/null
for m in n r2 r2_identity pearson_r ba_bias ba_loa_low ba_loa_high; do
  col "$dir/volume.csv" $m >"$dir/a"; col "$dir/r1/volume.csv" $m >"$dir/b"
  check_same "volume $m = volume's" "$dir/a" "$dir/b"
done
"$PANSEVAL" summary "$dir/r1/per_case_raters.csv" --by model,modality --metrics kappa --format csv \
  -o "$dir/rs.csv" 2>/dev/null
col "$dir/rs.csv" kappa_mean >"$dir/a"; col "$dir/r1/raters.csv" kappa_mean >"$dir/b"
check_same "raters kappa_mean = summary's" "$dir/a" "$dir/b"

# The multi-rater agreement: the files are byte for byte those of `panseval agreement` on the
# same manifest (ref named A, whose second session rater:A:2 has no rater:A column; sessions,
# models, grouped by modality), CSV and JSON; -j1 and -j3 write the same bytes.
"$PANSEVAL" agreement --manifest "$dir/data/manifest.tsv" --ref-name A --sessions --models \
  --by modality --out-dir "$dir/ag" -q 2>/dev/null
"$PANSEVAL" agreement --manifest "$dir/data/manifest.tsv" --ref-name A --sessions --models \
  --by modality --format json --out-dir "$dir/agj" -q 2>/dev/null
for pair in pairs:pairs cases:cases sessions:sessions models:model_cases summary:summary \
            dice_matrix:matrix models_summary:models; do
  a=${pair%%:*}; b=${pair#*:}
  check_same "agreement_$b.csv = agreement's $a.csv" "$dir/ag/$a.csv" "$dir/r1/agreement_$b.csv"
  check_same "agreement_$b.json = agreement's $a.json" "$dir/agj/$a.json" "$dir/r1/agreement_$b.json"
  check_same "-j1 and -j3 give the same agreement_$b.csv" "$dir/r1/agreement_$b.csv" \
    "$dir/r3/agreement_$b.csv"
done
check_contains "B's second session is intra-rater of B" "$dir/r1/agreement_sessions.csv" ",B,1,2,ok,"
check_contains "A's second session against ref (A)" "$dir/r1/agreement_sessions.csv" ",A,1,2,ok,"
check_contains "the case of the failed prediction is an error row" \
  "$dir/r1/agreement_cases.csv" "t1w03,mr-sub03,T1W,site3,,image,0,0,error,"
check_contains "the report's agreement section" "$dir/r1/report.html" 'id="agreement"'
# a manifest without rater columns: no agreement files, no agreement section
cut -f1-6,9,10 "$dir/data/manifest.tsv" >"$dir/data/norater.tsv"
"$PANSEVAL" reproduce --manifest "$dir/data/norater.tsv" --out "$dir/rnr" -q --no-progress 2>/dev/null
check_status "no raters: exit 1 (the broken prediction)" 1 $?
check_true "no raters: no agreement_pairs.csv" test ! -e "$dir/rnr/agreement_pairs.csv"
check_not_contains "no raters: no agreement section" "$dir/rnr/report.html" 'id="agreement"'

# --published none: the table has a header and no rows; the report has no published section
"$PANSEVAL" reproduce --manifest "$dir/data/manifest.tsv" --out "$dir/rn" --published none -q \
  --no-progress 2>/dev/null
check_status "--published none" 1 $?
check_status "published.csv has only its header" 1 "$(wc -l <"$dir/rn/published.csv" | tr -d ' ')"
check_not_contains "no published section" "$dir/rn/report.html" 'id="published"'
check_contains "baseline defaults to the first model" "$dir/rn/compare.csv" "modelB,modelA"

# usage and input errors
"$PANSEVAL" reproduce --manifest "$dir/data/manifest.tsv" >/dev/null 2>"$dir/e"
check_status "--out is required" 2 $?
"$PANSEVAL" reproduce --manifest "$dir/data/manifest.tsv" --out "$dir/rx" --baseline nosuch -q 2>"$dir/e"
check_status "unknown baseline: usage error" 2 $?
check_contains "unknown baseline named" "$dir/e" "nosuch"
"$PANSEVAL" reproduce --manifest "$dir/data/manifest.tsv" --out "$dir/rx" --published "$dir/none.tsv" \
  -q 2>"$dir/e"
check_status "missing published table" 1 $?
check_contains "missing published table named" "$dir/e" "none.tsv"
# --resume: a run interrupted by SIGINT keeps its journals and writes no report; the rerun
# with --resume gives the files of an uninterrupted run, byte for byte, and removes the journals.
# (The demo cases 6 times over, so the interrupt usually lands mid-run; when the machine is so
# fast that the run finished first, the comparison still holds. In a sanitizer build,
# PS_TEST_SANITIZED=1, twice over: every case costs several times more there, so the same
# 2 s still land mid-run.)
reps="1 2 3 4 5 6"; [ "${PS_TEST_SANITIZED:-0}" = 1 ] && reps="1 2"
{ grep -v '^#' "$dir/data/manifest.tsv" | head -n 1
  for i in $reps; do grep -v '^#' "$dir/data/manifest.tsv" | tail -n +2 | sed "s/^\([a-z0-9]*\)/\1_r$i/"; done
} >"$dir/data/big.tsv"
timeout --foreground --preserve-status -s INT 2 "$PANSEVAL" reproduce --manifest "$dir/data/big.tsv" \
  --out "$dir/rres" --baseline modelB -j 2 -q --no-progress >/dev/null 2>"$dir/rres.err"
st=$?
# (130 when the signal stopped a per-case table; a signal that lands after them, in the
# agreement or report steps, lets the run finish: then 0, or 1 for the error rows of the
# broken case, as an uninterrupted run)
check_true "an interrupted reproduce exits 130 (or as an uninterrupted run when it finished)" \
  test "$st" = 130 -o "$st" = 0 -o "$st" = 1
if [ "$st" = 130 ]; then
  check_contains "the interruption says how to resume" "$dir/rres.err" "rerun with --resume"
  check_true "an interrupted run writes no report" test ! -e "$dir/rres/report.html"
fi
"$PANSEVAL" reproduce --manifest "$dir/data/big.tsv" --out "$dir/rres" --baseline modelB -j 2 -q \
  --no-progress --resume >/dev/null 2>&1
st_res=$?
"$PANSEVAL" reproduce --manifest "$dir/data/big.tsv" --out "$dir/rclean" --baseline modelB -j 2 -q \
  --no-progress >/dev/null 2>&1
check_status "reproduce --resume exits as the uninterrupted run" $? "$st_res"
check_true "reproduce --resume finishes (0, or 1 for the error rows of a broken case)" test "$st_res" -le 1
for f in per_case.csv per_case_raters.csv by_modality.csv compare.csv volume.csv raters.csv \
         agreement_summary.csv report.html; do
  check_same "resumed reproduce: $f as an uninterrupted run's" "$dir/rres/$f" "$dir/rclean/$f"
done
check_true "no journal is left after the resumed run" sh -c "! ls '$dir/rres/'*.journal 2>/dev/null"

"$PANSEVAL" reproduce --help >"$dir/help.txt"
check_status "--help" 0 $?
check_contains "--help lists the tables" "$dir/help.txt" "cross_center.csv"
cli_done
