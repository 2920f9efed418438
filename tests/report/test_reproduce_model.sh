# test_reproduce_model.sh - `panseval reproduce --model NAME=MODEL_DIR` on three demo cases
# with the bundled demo model: the predictions are written to REPORT_DIR/preds/NAME, reused
# on a second run (files untouched), a case whose image is truncated becomes an error row of
# that model while the report is still written, and the model's metrics rows are byte-equal
# to `panseval infer --manifest` followed by `panseval metrics` run on their own; -j1 = -j2.
. "$PS_TEST_SRCDIR/cli/cli_lib.sh"
dir=$PS_TEST_TMPDIR/reproduce_model
model=$PS_TEST_SRCDIR/../models/demo-pancreas
rm -rf "$dir"
mkdir -p "$dir"
"$PANSEVAL" demo-data --out "$dir/data" --seed 1 -q >/dev/null 2>&1
check_status "demo-data" 0 $?
# three cases, one per modality; t2w03's image truncated (its inference fails)
head -c 100 "$dir/data/images/t2w03.nii.gz" >"$dir/data/images/t2w03_cut.nii.gz"
awk -F'\t' -v OFS='\t' '/^#/ { next } $1 == "case" || $1 == "ct01" || $1 == "t1w02" { print; next }
  $1 == "t2w03" { sub(/t2w03\.nii\.gz/, "t2w03_cut.nii.gz", $5); print }' \
  "$dir/data/manifest.tsv" >"$dir/data/sub.tsv"
check_true "the sub-manifest has 3 cases" test "$(wc -l <"$dir/data/sub.tsv")" -eq 4

"$PANSEVAL" reproduce --manifest "$dir/data/sub.tsv" --out "$dir/r" --baseline modelB \
  --model demo="$model" -j 2 --no-progress >"$dir/out1.txt" 2>"$dir/err1.txt"
check_status "exit 1: the truncated case failed" 1 $?
check_contains "the inference failure names the case" "$dir/err1.txt" "case 't2w03'"
check_contains "prints the inference counts" "$dir/out1.txt" \
  "Inference: 2 case(s) predicted, 0 reused, 1 failed"
check_true "ct01 predicted" test -s "$dir/r/preds/demo/ct01.nii.gz"
check_true "t1w02 predicted" test -s "$dir/r/preds/demo/t1w02.nii.gz"
check_true "nothing written for t2w03" test ! -e "$dir/r/preds/demo/t2w03.nii.gz"
check_true "report.html written" test -s "$dir/r/report.html"
check_true "summary_demo.json written" test -s "$dir/r/summary_demo.json"
check_contains "t2w03 is an error row of demo" "$dir/r/per_case.csv" "t2w03,demo,mr-sub03,T2W,"
check_true "the error row has status error" \
  sh -c "grep '^t2w03,demo,' '$dir/r/per_case.csv' | cut -d, -f7 | grep -qx error"
check_true "modelA's t2w03 is unaffected (ok)" \
  sh -c "grep '^t2w03,modelA,' '$dir/r/per_case.csv' | cut -d, -f7 | grep -qx ok"
check_contains "the per-modality table counts the error" "$dir/out1.txt" \
  "| demo | T2W | 1 | 0 | 0 | 1 |"

# A second run reuses the predictions: same files, same modification times, same rows
stamp() { stat -c '%Y.%y %s' "$dir/r/preds/demo/ct01.nii.gz" "$dir/r/preds/demo/t1w02.nii.gz"; }
before=$(stamp)
cp "$dir/r/per_case.csv" "$dir/per_case_1.csv"
"$PANSEVAL" reproduce --manifest "$dir/data/sub.tsv" --out "$dir/r" --baseline modelB \
  --model demo="$model" -j 2 --no-progress >"$dir/out2.txt" 2>"$dir/err2.txt"
check_status "second run: exit 1 again" 1 $?
check_contains "second run reuses both" "$dir/out2.txt" \
  "Inference: 0 case(s) predicted, 2 reused, 1 failed"
check_true "predictions untouched (timestamps)" test "$before" = "$(stamp)"
check_same "second run: the same per_case.csv" "$dir/per_case_1.csv" "$dir/r/per_case.csv"

# The same numbers from the two commands run on their own
"$PANSEVAL" infer --model "$model" --manifest "$dir/data/sub.tsv" --name demo \
  --out-dir "$dir/sep" -o "$dir/sep.tsv" -j 2 --no-progress >/dev/null 2>"$dir/err3.txt"
check_status "infer --manifest: exit 1 (t2w03)" 1 $?
"$PANSEVAL" metrics --manifest "$dir/sep.tsv" --model demo -j 2 --no-progress \
  -o "$dir/sep.csv" 2>/dev/null
grep -E '^(ct01|t1w02),demo,' "$dir/sep.csv" >"$dir/sep_rows.csv"
grep -E '^(ct01|t1w02),demo,' "$dir/r/per_case.csv" >"$dir/r_rows.csv"
check_true "two demo rows compared" test "$(wc -l <"$dir/r_rows.csv")" -eq 2
check_same "demo rows equal infer + metrics byte for byte" "$dir/sep_rows.csv" "$dir/r_rows.csv"
check_same "the label maps are equal" "$dir/sep/ct01.nii.gz" "$dir/r/preds/demo/ct01.nii.gz"

# -j1: the same label maps and rows as -j2
"$PANSEVAL" reproduce --manifest "$dir/data/sub.tsv" --out "$dir/r1" --baseline modelB \
  --model demo="$model" -j 1 -q --no-progress 2>/dev/null
check_status "-j1: exit 1" 1 $?
check_same "-j1 and -j2 give the same ct01 label map" "$dir/r/preds/demo/ct01.nii.gz" \
  "$dir/r1/preds/demo/ct01.nii.gz"
check_same "-j1 and -j2 give the same t1w02 label map" "$dir/r/preds/demo/t1w02.nii.gz" \
  "$dir/r1/preds/demo/t1w02.nii.gz"
sed "s|$dir/r1/|$dir/r/|" "$dir/r1/per_case.csv" >"$dir/r1_per_case.csv"   # the error row's path
check_same "-j1 and -j2 give the same per_case.csv" "$dir/r/per_case.csv" "$dir/r1_per_case.csv"

# usage errors
"$PANSEVAL" reproduce --manifest "$dir/data/sub.tsv" --out "$dir/e" --model demo \
  2>"$dir/e.txt"
check_status "--model without =DIR: usage error" 2 $?
check_contains "names the expected form" "$dir/e.txt" "NAME=MODEL_DIR"
"$PANSEVAL" reproduce --manifest "$dir/data/sub.tsv" --out "$dir/e" \
  --model demo="$dir/nowhere" 2>"$dir/e.txt"
check_status "a missing model folder: error" 1 $?
check_contains "names the model" "$dir/e.txt" "--model demo="
cli_done
