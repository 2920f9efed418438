#!/bin/sh
# CLI tests of `panseval model-info` and `panseval forward` on the bundled demo model
# (models/demo-pancreas). Expected parameter and FLOP counts: tests/golden/infer/demo_model/
# model_info.tsv (torch forward hooks in tests/reference/train_demo_model.py); the plans
# values are that script's inputs. The logits themselves are compared with PyTorch's in
# test_demo_model.c.
set -u
. "$PS_TEST_SRCDIR/cli/cli_lib.sh"
G=$PS_TEST_SRCDIR/golden/infer/demo_model
M=$PS_TEST_SRCDIR/../models/demo-pancreas
T=$PS_TEST_TMPDIR/demo_model_cli
rm -rf "$T"; mkdir -p "$T"
golden() { awk -F'\t' -v k="$1" '$1 == k { print $2 }' "$G/model_info.tsv"; }

"$PANSEVAL" model-info --model "$M" --format tsv >"$T/info.tsv" 2>"$T/info.err"
check_status "model-info exits 0" 0 $?
check_contains "parameters" "$T/info.tsv" "parameters	$(golden parameters)"
"$PANSEVAL" model-info --model "$M" >"$T/info.txt" 2>"$T/info.err"
check_contains "patch" "$T/info.txt" "patch        24 x 64 x 64"
check_contains "spacing" "$T/info.txt" "spacing      4 x 2 x 2 mm"
check_contains "trainer" "$T/info.txt" "nnUNetTrainerV2"
check_contains "one modality, z-score" "$T/info.txt" "0: nonCT"
"$PANSEVAL" forward --model "$M" --input "$G/input.nii.gz" --output "$T/logits.nii.gz" -j 2 \
  2>"$T/fwd.err"
check_status "forward exits 0" 0 $?
check_true "forward writes the logits" test -s "$T/logits.nii.gz"
"$PANSEVAL" forward --model "$M" --input "$G/input.nii.gz" --output "$T/l2.nii.gz" -j 1 \
  --backend reference 2>"$T/fwd2.err"
check_status "forward --backend reference exits 0" 0 $?
cli_done
