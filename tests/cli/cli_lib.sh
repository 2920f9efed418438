# cli_lib.sh - a tiny assertion library for the CLI tests (sourced, POSIX sh).
# Each check prints "ok - name" or "FAIL - name: why"; cli_done prints Check's summary line
# "100%: Checks: N, Failures: F, Errors: 0" so scripts/test counts CLI checks like unit tests.
: "${PANSEVAL:?PANSEVAL must name the panseval executable}"
: "${PS_TEST_SRCDIR:?}"
: "${PS_TEST_TMPDIR:?}"
cli_checks=0
cli_failures=0

pass() { cli_checks=$((cli_checks + 1)); echo "ok - $1"; }
fail() { cli_checks=$((cli_checks + 1)); cli_failures=$((cli_failures + 1)); echo "FAIL - $1: $2"; }

# check_status NAME EXPECTED ACTUAL
check_status() {
  if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "exit status $3, expected $2"; fi
}
# check_contains NAME FILE TEXT
check_contains() {
  if grep -qF -- "$3" "$2"; then pass "$1"; else fail "$1" "'$3' not in $(head -c 600 "$2")"; fi
}
# check_not_contains NAME FILE TEXT
check_not_contains() {
  if grep -qF -- "$3" "$2"; then fail "$1" "'$3' unexpectedly in $2"; else pass "$1"; fi
}
# check_same NAME FILE1 FILE2
check_same() {
  if cmp -s "$2" "$3"; then pass "$1"; else fail "$1" "$2 and $3 differ"; fi
}
# check_true NAME COMMAND...
check_true() {
  name=$1; shift
  if "$@"; then pass "$name"; else fail "$name" "command failed: $*"; fi
}

cli_done() {
  pct=100
  [ "$cli_checks" -gt 0 ] && pct=$(( (cli_checks - cli_failures) * 100 / cli_checks ))
  echo "${pct}%: Checks: $cli_checks, Failures: $cli_failures, Errors: 0"
  [ "$cli_failures" -eq 0 ]
}
