#!/bin/sh
# CLI tests of the table commands built on reports/ (summary, compare, volume, describe, kappa,
# icc): the exclusion rule (issue 12 A4), kappa's reason when se0 = 0 (A15), empty tables
# (A17), help without duplicated or idle options (A12), --by on any column (A5), the long
# per-case table for kappa and icc, and the md/tex formats (B). Expected values are hand
# calculations written beside them, or the outputs of commands whose numbers are checked
# against references elsewhere (tests/stats).
set -u
. "$(dirname "$0")/cli_lib.sh"
T=$PS_TEST_TMPDIR/cli_reports
rm -rf "$T"; mkdir -p "$T"
G=$PS_TEST_SRCDIR/golden/stats
P=$PANSEVAL

# field of the CSV row whose first cell is KEY: csv_get FILE KEY COLUMN
csv_get() {
  awk -F, -v key="$2" -v col="$3" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next }
    $1 == key && c { print $c; exit }' "$1"
}
# check_num NAME GOT WANT: |got - want| <= 1e-12 (1 + |want|)
check_num() {
  if awk -v g="$2" -v w="$3" 'BEGIN { d = g - w; if (d < 0) d = -d; a = w < 0 ? -w : w;
      exit !(g != "" && d <= 1e-12 * (1 + a)) }'; then pass "$1"; else fail "$1" "got '$2', expected $3"; fi
}

# --- A17: a header-only table is an error (exit 1) in every table command ----------------------
printf 'case,model,modality,status,dice,vol_ref_ml,vol_pred_ml\n' >"$T/empty.csv"
for c in "summary" "compare --metric dice --a A --b B" "describe --metric dice" "volume" \
         "kappa --raters model,dice" "icc --raters vol_ref_ml,vol_pred_ml" \
         "kappa --value dice"; do
  set -- $c; cmd=$1; shift
  $P $cmd "$T/empty.csv" "$@" >"$T/out" 2>"$T/err"
  check_status "$c of a header-only table exits 1" 1 $?
  check_contains "$c says the table has no rows" "$T/err" "empty.csv: the table has no rows"
done

# --- A4: one exclusion rule; every command counts what it left out and why ----------------------
# hand-made table: Y has Dice 0.9 and 0 (pred_empty counts), one error row, one missing row
cat >"$T/meta.csv" <<'X'
case,subject,meta:site,model,status,dice,hd95,vol_ref_ml,vol_pred_ml
c1,s1,X,A,ok,0.8,3,10,11
c2,s1,X,A,ok,0.6,inf,20,18
c3,s2,Y,A,ok,0.9,2,30,33
c4,s2,Y,A,pred_empty,0,nan,40,0
c5,s3,Y,A,error,,,,
c6,s3,Y,A,missing,,,,
X
$P describe "$T/meta.csv" --metric dice,hd95 --by meta:site --format csv >"$T/d.csv" 2>"$T/err"
check_status "describe --by meta:site exits 0" 0 $?
# site Y dice: values 0.9 and 0 -> n 2, mean 0.45; left out: c5 (error), c6 (missing)
awk -F, '$1 == "Y" && $2 == "dice"' "$T/d.csv" >"$T/y_dice.csv"
check_contains "describe Y dice: n 2, 2 left out" "$T/y_dice.csv" "Y,dice,2,2,"
head -1 "$T/d.csv" >"$T/d_head"
check_contains "describe has the exclusion columns last" "$T/d_head" \
  "ci_high,excl_nan,excl_inf,excl_error,excl_missing,excl_not_ok"
check_contains "describe Y dice: reasons nan 0, inf 0, error 1, missing 1, not_ok 0" "$T/y_dice.csv" ",0,0,1,1,0"
# site Y hd95: c3 = 2 only; c4 nan, c5 error, c6 missing; site X hd95: 3, and inf left out
awk -F, '$1 == "Y" && $2 == "hd95"' "$T/d.csv" >"$T/y_hd.csv"
check_contains "describe Y hd95: n 1, 3 left out (1 nan, 1 error, 1 missing)" "$T/y_hd.csv" "Y,hd95,1,3,2,"
check_contains "describe Y hd95 reasons" "$T/y_hd.csv" ",1,0,1,1,0"
check_contains "describe warns with the reasons" "$T/err" "describe meta:site=X, hd95: 1 row(s) left out (1 inf)"
check_contains "describe warns: error and missing" "$T/err" "2 row(s) left out (1 error, 1 missing)"
# --by subject: s3 has no value left -> exit 1 naming the group, the others still written
$P describe "$T/meta.csv" --metric dice --by subject --format csv >"$T/s.csv" 2>"$T/err"
check_status "describe --by subject with an all-excluded group exits 1" 1 $?
check_contains "the empty group is named" "$T/err" "subject=s3, column 'dice': no values left"
check_num "describe --by subject s1 mean dice (0.8 + 0.6) / 2" "$(csv_get "$T/s.csv" s1 mean)" 0.7
# volume: the pred_empty row counts with 0 ml; error and missing are left out
$P volume "$T/meta.csv" --by meta:site --format csv >"$T/v.csv" 2>"$T/err"
check_status "volume --by meta:site exits 1 (site X has 2 pairs < 3)" 1 $?
check_contains "volume Y: 2 pairs used (the pred_empty row with 0 ml counts), 2 left out" "$T/v.csv" "Y,2,2,"
# summary counts every status, missing included, and the exclusions per metric
$P summary "$T/meta.csv" --by meta:site --metrics dice --format csv >"$T/sum.csv" 2>"$T/err"
check_status "summary exits 0" 0 $?
check_contains "summary header" "$T/sum.csv" "meta:site,n_rows,n_ok,n_pred_empty,n_ref_empty,n_both_empty,n_missing,n_error,dice_n,dice_excluded,dice_nan,dice_inf,dice_mean"
check_contains "summary Y: 4 rows, 1 ok, 1 pred_empty, 1 missing, 1 error; dice n 2, 2 left out" \
  "$T/sum.csv" "Y,4,1,1,0,0,1,1,2,2,0,0,0.45"

# A18 downstream: an empty pred: cell gives a status=missing row (src/eval), and summary counts
# it in every format: 2 rows for model m, 1 ok (c0), 1 missing (c1)
MG=$PS_TEST_SRCDIR/golden/metrics
printf 'case\tref\tpred:m\nc0\t%s\t%s\nc1\t%s\t\n' "$MG/case_00_ref.nii.gz" \
  "$MG/case_00_pred.nii.gz" "$MG/case_00_ref.nii.gz" >"$T/miss.tsv"
$P metrics --manifest "$T/miss.tsv" --labels 1 -o "$T/miss.csv" 2>"$T/err"
check_status "metrics with an empty pred: cell exits 0" 0 $?
check_contains "the empty pred: cell is a missing row" "$T/miss.csv" "c1,m,,,,1,missing,"
$P summary "$T/miss.csv" --by model --metrics dice --format csv >"$T/ms.csv" 2>"$T/err"
check_contains "summary csv: n_missing column" "$T/ms.csv" "model,n_rows,n_ok,n_pred_empty,n_ref_empty,n_both_empty,n_missing,n_error"
check_contains "summary csv: m has 2 rows, 1 ok, 1 missing" "$T/ms.csv" "m,2,1,0,0,0,1,0,"
$P summary "$T/miss.csv" --by model --metrics dice --format tsv >"$T/ms.tsv" 2>"$T/err"
check_contains "summary tsv: 1 missing" "$T/ms.tsv" "$(printf 'm\t2\t1\t0\t0\t0\t1\t0\t')"
$P summary "$T/miss.csv" --by model --metrics dice --format json >"$T/ms.json" 2>"$T/err"
check_contains "summary json: n_missing 1" "$T/ms.json" '"n_both_empty": 0, "n_missing": 1, "n_error": 0'
for f in text md tex; do
  $P summary "$T/miss.csv" --by model --metrics dice --format $f >"$T/ms.$f" 2>"$T/err"
  check_contains "summary $f: a missing column" "$T/ms.$f" "missing"
done
check_contains "summary text: m 2 rows, 1 ok, 1 missing" "$T/ms.text" "m         2   1           0          0           0        1      0"
check_contains "summary md: m 2 rows, 1 ok, 1 missing" "$T/ms.md" "| m | 2 | 1 | 0 | 0 | 0 | 1 | 0 |"
check_contains "summary tex: m 2 rows, 1 ok, 1 missing" "$T/ms.tex" 'm & 2 & 1 & 0 & 0 & 0 & 1 & 0 &'

$P summary "$G/cli_table.csv" --model B --by modality --metrics dice --format csv >"$T/sm.csv" 2>"$T/err"
check_contains "summary --model B: MRI has B's 10 rows (8 ok, 1 pred_empty, 1 error)" "$T/sm.csv" "MRI,10,8,1,0,0,0,1,"
$P summary "$G/cli_table.csv" --model C --metrics dice >"$T/out" 2>"$T/err"
check_status "summary --model with an unknown model is a usage error" 2 $?

# A9 downstream: rows flagged in a geometry column are counted by summary
cat >"$T/geom.csv" <<'X'
case,model,label,status,geometry,dice
g1,A,1,ok,ok,0.9
g2,A,1,ok,ref_grid,0.8
g3,A,1,ok,ref_grid,0.7
g4,A,1,error,mismatch,
X
$P summary "$T/geom.csv" --by model --metrics dice --format csv >"$T/g.csv" 2>"$T/err"
check_contains "summary counts the 3 rows flagged in the geometry column" "$T/g.csv" "A,4,3,0,0,0,0,1,3,3,1,"
$P summary "$G/cli_table.csv" --by model --metrics dice --format csv >"$T/g2.csv" 2>"$T/err"
check_not_contains "no geometry column, no geometry count" "$T/g2.csv" "geometry"

# --- A15: kappa names the right reason when the SE under kappa = 0 is 0 --------------------------
# raters in {1,2} and {3,4}: no category in common, po = pe = 0, kappa = 0
printf 'a,b\n1,3\n2,4\n1,4\n2,3\n' >"$T/k_disjoint.csv"
$P kappa "$T/k_disjoint.csv" --raters a,b --format csv >"$T/out" 2>"$T/err"
check_status "kappa with disjoint categories exits 0" 0 $?
check_contains "kappa: the raters share no category" "$T/err" "the raters share no category"
check_not_contains "kappa: not 'single category' for disjoint raters" "$T/err" "single category"
check_num "kappa of disjoint raters: (0 - 0) / (1 - 0)" "$(csv_get "$T/out" a kappa)" 0
printf 'a,b\n1,1\n1,2\n1,2\n' >"$T/k_single.csv"
$P kappa "$T/k_single.csv" --raters a,b >"$T/out" 2>"$T/err"
check_contains "kappa: a rater used a single category" "$T/err" "a rater used a single category"

# --- B: kappa and icc on the long per-case table ------------------------------------------------
# the SAS example pivoted to long form must give exactly the wide result
awk -F, 'NR > 1 { printf "s%02d,rater1,%s\ns%02d,rater2,%s\n", NR, $1, NR, $2 }' "$G/agreement_data_sas10.csv" |
  { echo "case,model,grade"; cat; } >"$T/k_long.csv"
$P kappa "$G/agreement_data_sas10.csv" --raters rater1,rater2 --format csv >"$T/k_wide.out" 2>/dev/null
$P kappa "$T/k_long.csv" --value grade --format csv >"$T/k_long.out" 2>"$T/err"
check_status "kappa --value exits 0" 0 $?
check_same "kappa on the long table = kappa on the wide table" "$T/k_wide.out" "$T/k_long.out"
$P kappa "$T/k_long.csv" --value grade --rater-col model --raters rater2,rater1 --format csv >"$T/k_rev.out" 2>&1
check_contains "--raters orders the raters of the long table" "$T/k_rev.out" "rater2,rater1,none"
# a subject twice for one rater: an error naming both lines
{ cat "$T/k_long.csv"; echo "s02,rater1,3"; } >"$T/k_dup.csv"
$P kappa "$T/k_dup.csv" --value grade >"$T/out" 2>"$T/err"
check_status "kappa long with a duplicate exits 1" 1 $?
check_contains "the duplicate names its lines" "$T/err" "lines 2 and 40: case 's02' has two rows for model 'rater1'"
# a missing row and a status error row are missing ratings: 2 subjects dropped
{ echo "case,model,status,grade"; awk -F, 'NR > 1 && NR != 3 { st = (NR == 6 ? "error" : "ok"); print $1 "," $2 "," st "," $3 }' "$T/k_long.csv"; } >"$T/k_miss.csv"
$P kappa "$T/k_miss.csv" --value grade --format csv >"$T/out" 2>"$T/err"
check_contains "long kappa: 2 of 19 subjects dropped" "$T/out" "rater1,rater2,none,17,2,"
check_contains "long kappa says so" "$T/err" "dropped 2 of 19 rows"
# --raters selects raters; subjects rated only by others do not count as dropped.
# R1 = (1, 2, 1), R2 = (2, 2, 1) on c, d, e: po = 2/3, pe = 2/3 * 1/3 + 1/3 * 2/3 = 4/9,
# kappa = (2/3 - 4/9) / (1 - 4/9) = 0.4 (hand calculation)
printf 'case,model,grade\na,X,1\nb,X,2\nc,Y,1\nc,R1,1\nc,R2,2\nd,R1,2\nd,R2,2\ne,R1,1\ne,R2,1\n' >"$T/kl.csv"
$P kappa "$T/kl.csv" --value grade --raters R1,R2 --format csv >"$T/out" 2>"$T/err"
check_contains "long kappa with --raters: 3 subjects, none dropped" "$T/out" "R1,R2,none,3,0,"
check_num "long kappa with --raters = 0.4 (hand)" "$(csv_get "$T/out" R1 kappa)" 0.4
$P kappa "$T/kl.csv" --value grade --raters R1,R9 >"$T/out" 2>"$T/err"
check_contains "a listed rater without rows is an error" "$T/err" "no rows with model 'R9'"

# icc: the Shrout-Fleiss data pivoted
awk -F, 'NR > 1 { for (j = 1; j <= NF; j++) printf "t%d,judge%d,%s\n", NR, j, $j }' "$G/agreement_data_shrout.csv" |
  { echo "case,model,vol_pred_ml"; cat; } >"$T/i_long.csv"
$P icc "$G/agreement_data_shrout.csv" --raters judge1,judge2,judge3,judge4 --format csv >"$T/i_wide.out" 2>/dev/null
$P icc "$T/i_long.csv" --value vol_pred_ml --rater-col model --format csv >"$T/i_long.out" 2>"$T/err"
check_status "icc --value exits 0" 0 $?
check_same "icc on the long table = icc on the wide table" "$T/i_wide.out" "$T/i_long.out"
$P icc "$T/i_long.csv" --rater-col model >"$T/out" 2>"$T/err"
check_status "--rater-col without --value is a usage error" 2 $?

# kappa: Krippendorff's alpha (ordinal, threaded) is the same for any -j
$P kappa "$G/agreement_data_rand_multi.csv" --raters r1,r2,r3,r4 --alpha-metric ordinal -j 1 --format csv >"$T/kj1" 2>/dev/null
$P kappa "$G/agreement_data_rand_multi.csv" --raters r1,r2,r3,r4 --alpha-metric ordinal -j 3 --format csv >"$T/kj3" 2>/dev/null
check_same "kappa -j 1 and -j 3 write the same bytes" "$T/kj1" "$T/kj3"

# --- B: --format md and tex for every table command ----------------------------------------------
C=$G/cli_table.csv
for c in "summary --metrics dice,hd95" "compare --metric dice --a A --b B" "describe --metric dice" \
         "volume --model A"; do
  for f in md tex; do
    set -- $c; cmd=$1; shift
    $P $cmd "$C" "$@" --format $f >"$T/f.$f" 2>/dev/null
    check_status "$cmd --format $f exits 0" 0 $?
  done
  check_contains "$cmd md has a header rule" "$T/f.md" "| --- |"
  check_contains "$cmd tex is a booktabs tabular" "$T/f.tex" '\toprule'
  check_contains "$cmd tex ends its tabular" "$T/f.tex" '\end{tabular}'
done
$P kappa "$G/agreement_data_sas10.csv" --raters rater1,rater2 --format md >"$T/f.md" 2>/dev/null
check_contains "kappa md row" "$T/f.md" "| rater1 | rater2 |"
$P icc "$G/agreement_data_shrout.csv" --raters judge1,judge2 --format tex >"$T/f.tex" 2>/dev/null
check_contains "icc tex row" "$T/f.tex" "ICC1 & one-way random, single rater &"
$P describe "$C" --metric dice --format xml >"$T/out" 2>"$T/err"
check_status "--format xml is a usage error" 2 $?
check_contains "the error lists the formats" "$T/err" "text, csv, tsv, json, md or tex"

# --- A6: the suffix of -o chooses the format; a conflict with --format is an error -------------
$P describe "$C" --metric dice -o "$T/suffix.md" 2>/dev/null
check_status "describe -o x.md exits 0" 0 $?
check_contains "-o x.md writes Markdown" "$T/suffix.md" "| metric |"
$P kappa "$G/agreement_data_sas10.csv" --raters rater1,rater2 -o "$T/suffix.tex" 2>/dev/null
check_contains "-o x.tex writes LaTeX" "$T/suffix.tex" '\begin{tabular}'
$P describe "$C" --metric dice -o "$T/suffix2.md" --format csv >"$T/out" 2>"$T/err"
check_status "--format csv with -o x.md is a usage error" 2 $?
check_true "nothing is written on a usage error" test ! -e "$T/suffix2.md"

# --- A12: no duplicated options in the help, no options that do nothing ---------------------------
for c in summary compare volume describe kappa icc; do
  $P $c --help >"$T/h" 2>&1
  nf=$(grep -cE '^ +(-., )?--format' "$T/h")
  check_status "$c --help documents --format once" 1 "$nf"
  ns=$(grep -cE '^ +(-., )?--seed' "$T/h")
  if [ $c = describe ]; then want=1; else want=0; fi
  check_status "$c --help documents --seed $want time(s)" $want "$ns"
done
$P compare "$C" --metric dice --a A --b B --seed 3 >"$T/out" 2>"$T/err"
check_status "compare rejects --seed (it has no randomness)" 2 $?
check_contains "the error is prefixed with the command" "$T/err" "panseval compare: unknown option '--seed'"
$P volume "$C" --model A -j 2 >"$T/out" 2>"$T/err"
check_status "volume rejects -j (it runs no threads)" 2 $?
$P describe "$C" --metric >"$T/out" 2>"$T/err"
check_status "a missing option argument is a usage error" 2 $?
check_contains "one message naming the option" "$T/err" "panseval describe: option '--metric' needs an argument"
check_true "only one error line" test "$(grep -c 'panseval' "$T/err")" -le 2

cli_done
