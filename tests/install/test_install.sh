#!/bin/sh
# test_install.sh - `meson install` into a scratch DESTDIR, then use what it installed as a
# user would: the binary, the man page, the docs, and a C program built against libpanseval
# through its pkg-config file. Prints "ok/FAIL" lines and Check's summary line.
set -u
. "$PS_TEST_SRCDIR/cli/cli_lib.sh"
: "${PS_BUILD_ROOT:?}" "${PS_VERSION:?}"
dest=$PS_TEST_TMPDIR/install-root
rm -rf "$dest"
log=$PS_TEST_TMPDIR/install.log
meson install -C "$PS_BUILD_ROOT" --destdir "$dest" --no-rebuild >"$log" 2>&1
check_status "meson install into a DESTDIR" 0 $?

pc=$(find "$dest" -name panseval.pc | head -n 1)
lib=$(find "$dest" -name 'libpanseval.so.*' -type f | head -n 1)
bin=$(find "$dest" -path '*/bin/panseval' | head -n 1)
man=$(find "$dest" -name panseval.1 | head -n 1)
check_true "pkg-config file installed" test -n "$pc"
check_true "shared library installed" test -n "$lib"
check_true "binary installed" test -n "$bin"
check_true "man page installed" test -n "$man"
check_true "header folder include/panseval" test -n "$(find "$dest" -path '*/include/panseval/panseval.h')"
for f in README.md LICENSE CHANGELOG.md docs/metrics.md data-manifests/README.md; do
  check_true "doc installed: $f" test -n "$(find "$dest" -path "*/share/doc/panseval/$f")"
done

# Only the public API is exported: every dynamic symbol defined by the library starts with
# ps_, and the library-internal ps_*_ helpers are hidden.
syms=$PS_TEST_TMPDIR/install-syms.txt
nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' >"$syms"
check_true "the library exports symbols" test -s "$syms"
check_true "every exported symbol starts with ps_" sh -c "! grep -v '^ps_' '$syms'"
check_true "internal ps_*_ helpers are hidden" sh -c "! grep '_\$' '$syms'"

# The binary copies no exported array from the library (a copy relocation fixes its size at
# link time: a longer help text in a rebuilt library gave "Symbol `ps_eval_settings_help' has
# different size in shared object" and a cut text). Pointers and ints (<= 8 bytes) are fine.
if command -v readelf >/dev/null 2>&1; then
  big=$(readelf --dyn-syms -W "$bin" | awk '$4 == "OBJECT" && $7 != "UND" && $8 ~ /^ps_/ && $3 + 0 > 8 { print $8 " (" $3 " bytes)" }')
  check_true "the binary copies no ps_ array from the library${big:+: $big}" test -z "$big"
fi

# A C program compiled and linked with nothing but pkg-config's answer.
libdir=$(dirname "$lib")
export PKG_CONFIG_PATH="$(dirname "$pc")" PKG_CONFIG_SYSROOT_DIR="$dest"
cflags=$(pkg-config --cflags panseval) libs=$(pkg-config --libs panseval)
check_status "pkg-config knows panseval" 0 $?
check_contains "pkg-config version" /dev/stdin "$PS_VERSION" <<EOT
$(pkg-config --modversion panseval)
EOT
exe=$PS_TEST_TMPDIR/install-consumer
# shellcheck disable=SC2086
# the build's compiler, and its sanitizer flags when the library was built with them (a
# sanitized libpanseval needs the sanitizer runtime in the program: scripts/gate.sh)
${PS_CONSUMER_CC:-cc} ${PS_CONSUMER_CFLAGS:-} -std=c11 -Wall -Wextra -Werror -o "$exe" \
  "$PS_TEST_SRCDIR/install/consumer.c" $cflags $libs -lm \
  >"$PS_TEST_TMPDIR/install-cc.log" 2>&1
check_status "consumer.c compiles against the installed headers and library" 0 $?
out=$PS_TEST_TMPDIR/install-consumer.out
LD_LIBRARY_PATH="$libdir" "$exe" "$PS_VERSION" >"$out" 2>&1
check_status "consumer runs on the installed library (Dice 27*2/128 by hand)" 0 $?
check_contains "consumer reports the hand-calculated Dice" "$out" "dice 0.421875"
check_true "consumer uses the installed libpanseval" sh -c \
  "LD_LIBRARY_PATH='$libdir' ldd '$exe' | grep -q '$libdir/libpanseval.so'"

# The installed binary runs (its rpath finds the installed library) and its man page lists
# every command of `panseval --help`.
LD_LIBRARY_PATH="$libdir" "$bin" --version >"$PS_TEST_TMPDIR/install-version.out" 2>&1
check_contains "installed binary runs" "$PS_TEST_TMPDIR/install-version.out" "panseval $PS_VERSION"
for c in $("$PANSEVAL" --help | awk '/^Commands:/ {on = 1; next} on && /^  [a-z]/ {print $1} on && /^$/ {exit}'); do
  check_contains "man page has the manual of '$c'" "$man" ".SS \"panseval $c\""
done
MANWIDTH=100 man -l "$man" >"$PS_TEST_TMPDIR/install-man.txt" 2>"$PS_TEST_TMPDIR/install-man.err"
check_status "man -l renders the page" 0 $?
check_contains "rendered man page shows the metrics manual" "$PS_TEST_TMPDIR/install-man.txt" "Usage: panseval metrics"
check_not_contains "man reports no roff warnings" "$PS_TEST_TMPDIR/install-man.err" "warning"
cli_done
