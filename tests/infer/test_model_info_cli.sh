#!/bin/sh
# CLI tests of `panseval model-info` on the fixture model folders. Expected parameter and FLOP
# counts: tests/golden/infer/<model>/model_info.tsv, measured by
# tests/reference/make_infer_fixtures.py with torch forward hooks; plans values are that
# script's inputs.
: "${PANSEVAL:?}" "${PS_TEST_SRCDIR:?}" "${PS_TEST_TMPDIR:?}"
G="$PS_TEST_SRCDIR/golden/infer"
T="$PS_TEST_TMPDIR/model_info_cli"
mkdir -p "$T"
checks=0 failures=0
pass() { checks=$((checks + 1)); echo "ok - $1"; }
fail() { checks=$((checks + 1)); failures=$((failures + 1)); echo "FAIL - $1: $2"; }
check_status() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "status $3, expected $2"; fi; }
check_contains() {
  if grep -qF -- "$3" "$2"; then pass "$1"; else fail "$1" "'$3' not in $(head -c 800 "$2")"; fi
}
golden() { awk -F'\t' -v k="$2" '$1 == k { print $2 }' "$G/$1/model_info.tsv"; }

for m in unet_2class unet_3class pansegnet; do
  "$PANSEVAL" model-info --model "$G/$m" --format json -o "$T/$m.json" 2>"$T/$m.err"
  check_status "$m json exit" 0 $?
  check_contains "$m parameters" "$T/$m.json" "\"parameters\": $(golden $m parameters),"
  # FLOPs are integers here: compare as numbers
  got=$(sed -n 's/.*"flops": \([0-9.e+]*\).*/\1/p' "$T/$m.json")
  want=$(golden $m flops)
  if awk -v a="$got" -v b="$want" 'BEGIN { exit !(a == b) }'; then pass "$m flops"
  else fail "$m flops" "$got, expected $want"; fi
  "$PANSEVAL" model-info --model "$G/$m" >"$T/$m.txt" 2>"$T/$m.err"
  check_status "$m text exit" 0 $?
  "$PANSEVAL" model-info --model "$G/$m" --format tsv >"$T/$m.tsv" 2>"$T/$m.err"
  check_status "$m tsv exit" 0 $?
  check_contains "$m tsv parameters" "$T/$m.tsv" "parameters	$(golden $m parameters)"
done
# CONFIGS of make_infer_fixtures.py
check_contains "2class trainer" "$T/unet_2class.json" '"trainer": "nnUNetTrainerV2"'
check_contains "2class patch" "$T/unet_2class.json" '"patch_size": [16, 32, 32]'
check_contains "2class spacing (shortest round-trip numbers, issue 12 A10)" "$T/unet_2class.json" '"spacing_mm": [2.5, 0.8, 0.8]'
check_not_contains "no %.17g tails" "$T/unet_2class.json" "0000000000"
check_contains "2class CT stats" "$T/unet_2class.json" '"scheme": "CT", "use_mask": false, "mean": 35.25, "sd": 60.5, "percentile_00_5": -95.5, "percentile_99_5": 215'
check_contains "2class stage 0" "$T/unet_2class.json" '{"features": 8, "kernel": [1, 3, 3], "stride": [1, 1, 1], "size": [16, 32, 32]},'
check_contains "2class bottleneck" "$T/unet_2class.json" '{"features": 32, "kernel": [3, 3, 3], "stride": [2, 2, 2], "size": [8, 8, 8]}'
check_contains "2class epoch" "$T/unet_2class.json" '"epoch": 3,'
check_contains "3class stage" "$T/unet_3class.json" '"stage": 1,'
check_contains "3class classes" "$T/unet_3class.json" '"num_classes": 2,'
check_contains "3class anisotropic bottleneck" "$T/unet_3class.txt" 'bottleneck   32  3x1x3  2x1x2  2x6x4'
check_contains "pansegnet attention" "$T/pansegnet.json" '"attention_block": {"tokens": 256, "channels": 32, "d_model": 64, "layers": 2, "heads": 8, "d_ff": 64}'
check_contains "pansegnet trainer" "$T/pansegnet.txt" 'nnTransUNetTrainerV2'

# the pre-1.6 format reads like the zip format
"$PANSEVAL" model-info --model "$G/legacy" --format tsv >"$T/legacy.tsv" 2>"$T/legacy.err"
check_status "legacy exit" 0 $?
check_contains "legacy parameters" "$T/legacy.tsv" "parameters	$(golden legacy parameters)"

# errors: missing fold, usage
"$PANSEVAL" model-info --model "$G/unet_2class" --fold 4 >"$T/fold.out" 2>"$T/fold.err"
check_status "missing fold exit" 1 $?
check_contains "missing fold message" "$T/fold.err" "fold_4/model_final_checkpoint.model: checkpoint not found"
# plans that do not match the weights (3-class plans, 2-class checkpoint): the network
# binding names the first tensor whose shape differs
mkdir -p "$T/mismatch/fold_0"
cp "$G/unet_2class/fold_0/model_final_checkpoint.model" "$T/mismatch/fold_0/"
cp "$G/unet_3class/fold_0/model_final_checkpoint.model.pkl" "$T/mismatch/fold_0/"
"$PANSEVAL" model-info --model "$T/mismatch" >"$T/mismatch.out" 2>"$T/mismatch.err"
check_status "mismatch exit" 1 $?
check_contains "mismatch names the checkpoint" "$T/mismatch.err" "mismatch/fold_0/model_final_checkpoint.model"
check_contains "mismatch names the tensor" "$T/mismatch.err" "conv_blocks_context.0.blocks.0.conv.weight"
"$PANSEVAL" model-info >"$T/usage.out" 2>"$T/usage.err"
check_status "no --model exit" 2 $?
check_contains "no --model message" "$T/usage.err" "missing --model"
"$PANSEVAL" model-info --model "$G/unet_2class" --fold x >"$T/usage.out" 2>"$T/usage.err"
check_status "bad --fold exit" 2 $?
"$PANSEVAL" model-info --help >"$T/help.out"
check_status "help exit" 0 $?
check_contains "help text" "$T/help.out" "Usage: panseval model-info"
"$PANSEVAL" model-info --model "$G/unet_2class" --format text >"$T/explicit.txt"
check_status "--format text" 0 $?
check_contains "--format text output" "$T/explicit.txt" "parameters   83512"

pct=100
[ "$checks" -gt 0 ] && pct=$(( (checks - failures) * 100 / checks ))
echo "${pct}%: Checks: $checks, Failures: $failures, Errors: 0"
[ "$failures" -eq 0 ]
