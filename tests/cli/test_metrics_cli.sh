#!/bin/sh
# CLI tests of `panseval metrics`, `summary` and `demo-data`: exit codes, error rows,
# determinism across thread counts, atomic output, formats. Numbers themselves are checked by
# the unit tests against reference implementations; here the expected facts are the
# documented behaviour (README "Commands").
set -u
. "$(dirname "$0")/cli_lib.sh"
T=$PS_TEST_TMPDIR/cli_metrics
rm -rf "$T"; mkdir -p "$T"

# --- help and usage errors ------------------------------------------------------------------
"$PANSEVAL" --help >"$T/help" 2>&1; check_status "panseval --help exits 0" 0 $?
check_contains "top-level help lists metrics" "$T/help" "metrics"
"$PANSEVAL" metrics --help >"$T/mhelp" 2>&1; check_status "metrics --help exits 0" 0 $?
check_contains "metrics --help documents --hd95" "$T/mhelp" "--hd95 NAME"
"$PANSEVAL" metrics >"$T/out" 2>"$T/err"; check_status "metrics without input is a usage error" 2 $?
check_contains "usage error says what is missing" "$T/err" "--manifest"
"$PANSEVAL" metrics --ref a --pred b --hd95 nope >"$T/out" 2>"$T/err"
check_status "unknown --hd95 is a usage error" 2 $?
check_contains "unknown --hd95 names the option" "$T/err" "--hd95"
"$PANSEVAL" metrics --ref a --pred b --percentile 101 >"$T/out" 2>"$T/err"
check_status "--percentile out of range is a usage error" 2 $?
"$PANSEVAL" frobnicate >"$T/out" 2>"$T/err"; check_status "unknown command exits 2" 2 $?

# --- the demo data set ----------------------------------------------------------------------
"$PANSEVAL" demo-data --out "$T/demo" --seed 7 2>"$T/err"
check_status "demo-data exits 0" 0 $?
M=$T/demo/manifest.tsv
check_true "demo-data writes a manifest" test -s "$M"

"$PANSEVAL" metrics --manifest "$M" -j 1 -o "$T/j1.csv" 2>"$T/err"
check_status "metrics on the demo set exits 0" 0 $?
"$PANSEVAL" metrics --manifest "$M" -j 2 -o "$T/j2.csv" 2>"$T/err"
"$PANSEVAL" metrics --manifest "$M" -j 3 -o "$T/j3.csv" 2>"$T/err"
check_same "output identical for -j 1 and -j 2" "$T/j1.csv" "$T/j2.csv"
check_same "output identical for -j 1 and -j 3" "$T/j1.csv" "$T/j3.csv"
head -n 1 "$T/j1.csv" >"$T/header"
check_contains "header starts with the key columns" "$T/header" "case,model,subject,modality,center,label,status,geometry,tp,fp,fn,tn,dice"
check_contains "header has the distance columns" "$T/header" "hd95,hd95_pred_to_ref,hd95_ref_to_pred,assd,masd,nsd,message"
check_contains "the empty demo prediction is reported" "$T/j1.csv" ",pred_empty,"
ncases=$(grep -vc '^#' "$M"); ncases=$((ncases - 1))
nrows=$(($(wc -l <"$T/j1.csv") - 1))
check_true "one row per case and model (2 models)" test "$nrows" -eq $((2 * ncases))

"$PANSEVAL" metrics --manifest "$M" --model modelA --format json -o "$T/a.json" 2>"$T/err"
check_status "metrics --model --format json exits 0" 0 $?
check_contains "json is an array of objects" "$T/a.json" '{"case": '
check_not_contains "--model modelA leaves modelB out" "$T/a.json" '"model": "modelB"'
"$PANSEVAL" metrics --manifest "$M" --model nosuch -o "$T/x.csv" 2>"$T/err"
check_status "unknown --model fails" 1 $?
check_contains "unknown --model is named" "$T/err" "nosuch"

# --- rater columns evaluated like models (inter- and intra-rater agreement) ----------------------
"$PANSEVAL" metrics --manifest "$M" --model rater:B --model rater:A:2 -o "$T/raters.csv" 2>"$T/err"
check_status "metrics --model rater:B --model rater:A:2 exits 0" 0 $?
check_contains "rater rows are named by their column" "$T/raters.csv" ",rater:A:2,"
check_not_contains "rater run has no model rows" "$T/raters.csv" ",modelA,"
nr=$(($(wc -l <"$T/raters.csv") - 1))
check_true "one row per case and rater column" test "$nr" -eq $((2 * ncases))
"$PANSEVAL" metrics --manifest "$M" --model rater:Z -o "$T/x.csv" 2>"$T/err"
check_status "an unknown rater column is a usage error" 2 $?
check_contains "the unknown rater column is named" "$T/err" "rater:Z"

# --- a missing prediction: an error row, the others still run ---------------------------------
first_pred=$(awk -F'\t' 'NR>1 && !/^#/ { for (i=1;i<=NF;i++) if ($i ~ /preds\//) { print $i; exit } }' "$M")
sed "s#$first_pred#preds/does_not_exist.nii.gz#" "$M" >"$T/demo/broken.tsv"
"$PANSEVAL" metrics --manifest "$T/demo/broken.tsv" -o "$T/broken.csv" 2>"$T/err"
check_status "a missing file makes the exit status 1" 1 $?
check_contains "the missing file is listed before the run" "$T/err" "does_not_exist.nii.gz"
check_contains "the failed case has status=error" "$T/broken.csv" ",error,"
check_contains "its message names the file" "$T/broken.csv" "does_not_exist.nii.gz"
nok=$(grep -c ',ok,' "$T/broken.csv")
nok_all=$(grep -c ',ok,' "$T/j1.csv")
check_true "the other cases are still evaluated" test "$nok" -ge $((nok_all - 1))
"$PANSEVAL" metrics --manifest "$T/demo/broken.tsv" --fail-fast -j 1 -o "$T/ff.csv" 2>"$T/err"
check_status "--fail-fast exits 1" 1 $?
check_contains "--fail-fast says it stopped" "$T/err" "fail-fast"

# --- geometry mismatch between two cases of different centers ----------------------------------
# the reference of the first case, and of the last case from another center (other spacing)
pairs=$(awk -F'\t' '/^#/ { next } !h { h = 1; for (i=1;i<=NF;i++) { if ($i=="ref") r=i; if ($i=="center") c=i }; next }
                    { print $c "\t" $r }' "$M")
c1=$(echo "$pairs" | head -n 1 | cut -f1)
r1=$(echo "$pairs" | head -n 1 | cut -f2)
r2=$(echo "$pairs" | awk -F'\t' -v c="$c1" '$1 != c { r = $2 } END { print r }')
"$PANSEVAL" metrics --ref "$T/demo/$r1" --pred "$T/demo/$r2" -o "$T/geo.csv" 2>"$T/err"
check_status "geometry mismatch exits 1" 1 $?
check_contains "geometry mismatch is an error row" "$T/geo.csv" ",error,"

# --- output files -------------------------------------------------------------------------------
"$PANSEVAL" metrics --ref "$T/demo/$r1" --pred "$T/demo/$r1" -o "$T/no/such/dir/out.csv" 2>"$T/err"
check_status "output in a missing folder is a usage error (2), found before any work" 2 $?
check_contains "unwritable output names the path" "$T/err" "no/such/dir/out.csv"
"$PANSEVAL" metrics --ref "$T/demo/$r1" --pred "$T/demo/$r1" --case self >"$T/self.csv" 2>"$T/err"
check_status "a volume against itself exits 0" 0 $?
check_contains "a volume against itself: Dice 1, HD 0" "$T/self.csv" ",1,1,1,1,1,"
leftovers=$(find "$T" -name '.*.csv.*' | wc -l)
check_true "no temporary files are left behind" test "$leftovers" -eq 0

# --- summary ------------------------------------------------------------------------------------
"$PANSEVAL" summary "$T/j1.csv" --by model,modality >"$T/sum.txt" 2>"$T/err"
check_status "summary exits 0" 0 $?
check_contains "summary counts empty predictions" "$T/sum.txt" "pred_empty"
check_contains "summary has a T2W group" "$T/sum.txt" "T2W"
"$PANSEVAL" summary "$T/j1.csv" --by modality --format json >"$T/sum.json" 2>"$T/err"
check_contains "summary json has dice_mean" "$T/sum.json" '"dice_mean": '
"$PANSEVAL" summary "$T/j1.csv" --metrics nosuch >"$T/out" 2>"$T/err"
check_status "summary with an unknown column is a usage error" 2 $?
check_contains "summary names the unknown column" "$T/err" "nosuch"

# --- metrics --summary-json: nnU-Net's summary.json from the same run ---------------------------
# The four cases of tests/reference/nnunet_summary_reference.py (partial overlap, a label
# missing from the prediction, a label in neither mask, a label only in the prediction; the
# goldens there are nnU-Net's own files). The expected file: `summary --format LAYOUT` of the
# table the same run wrote (its agreement with nnU-Net is tests/reports/test_nnunet_json.c).
N=$PS_TEST_SRCDIR/golden/reports/nnunet
for L in nnunet-v1 nnunet-v1-pansegnet nnunet-v2; do
  for sfx in csv json; do
    (cd "$N" && "$PANSEVAL" metrics --manifest manifest.tsv --labels 1,2 -o "$T/sj_$L.$sfx" \
       --summary-json "$T/sj_$L.$sfx.summary.json" --summary-json-layout $L) 2>"$T/err"
    check_status "metrics --summary-json ($L, table .$sfx) exits 0" 0 $?
    (cd "$N" && "$PANSEVAL" summary "$T/sj_$L.$sfx" --format $L -o "$T/sj_$L.$sfx.expected.json") 2>"$T/err"
    check_same "metrics --summary-json equals summary --format $L of its .$sfx table" \
      "$T/sj_$L.$sfx.summary.json" "$T/sj_$L.$sfx.expected.json"
  done
done
check_contains "the v1 file has nnU-Net v1's layout" "$T/sj_nnunet-v1.csv.summary.json" '"results": {'
check_contains "the v2 file has nnU-Net v2's layout" "$T/sj_nnunet-v2.csv.summary.json" '"foreground_mean": {'
# the default layout is v1; the table on standard output is copied too
(cd "$N" && "$PANSEVAL" metrics --manifest manifest.tsv --labels 1,2 --summary-json "$T/sj_def.json") \
  >"$T/sj_def.csv" 2>"$T/err"
check_same "--summary-json with the table on standard output, default layout v1" \
  "$T/sj_def.json" "$T/sj_nnunet-v1.csv.expected.json"
# --manifest - reads the manifest from standard input (ps_read_all): the same table
(cd "$N" && "$PANSEVAL" metrics --manifest - --labels 1,2 <manifest.tsv) >"$T/sj_stdin.csv" 2>"$T/err"
check_status "--manifest - exits 0" 0 $?
check_same "--manifest - gives the table of --manifest FILE" "$T/sj_stdin.csv" "$T/sj_def.csv"
# refusals, before any work
(cd "$N" && "$PANSEVAL" metrics --manifest manifest.tsv --summary-json manifest.tsv) >"$T/out" 2>"$T/err"
check_status "--summary-json equal to the manifest is refused" 2 $?
check_contains "the refusal names the option" "$T/err" "--summary-json manifest.tsv is the input file"
(cd "$N" && "$PANSEVAL" metrics --manifest manifest.tsv -o "$T/same.csv" --summary-json "$T/same.csv") >"$T/out" 2>"$T/err"
check_status "--summary-json equal to -o is refused" 2 $?
check_true "nothing was written" test ! -e "$T/same.csv"
(cd "$N" && "$PANSEVAL" metrics --manifest manifest.tsv --summary-json "$T/nodir/s.json") >"$T/out" 2>"$T/err"
check_status "--summary-json in a missing folder is refused" 2 $?
(cd "$N" && "$PANSEVAL" metrics --manifest manifest.tsv --summary-json-layout v2) >"$T/out" 2>"$T/err"
check_status "--summary-json-layout without --summary-json is a usage error" 2 $?
(cd "$N" && "$PANSEVAL" metrics --manifest manifest.tsv --summary-json "$T/x.json" --summary-json-layout v3) >"$T/out" 2>"$T/err"
check_status "an unknown --summary-json-layout is a usage error" 2 $?

cli_done
