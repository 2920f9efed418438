#!/bin/sh
# gen-man.sh PANSEVAL VERSION OUT - write the man page panseval(1) from the program's own
# help texts: `panseval --help` for the synopsis and the command list, then
# `panseval CMD --help` for each command, verbatim in a no-fill block. Called by meson at
# build time, so the page always matches the binary.
set -eu
pv=$1 version=$2 out=$3
tmp=$out.tmp.$$
trap 'rm -f "$tmp"' EXIT
# roff: a line starting with . or ' is a request, and a backslash starts an escape.
esc() { sed -e 's/\\/\\e/g' -e 's/^\([.'"'"']\)/\\\&\1/'; }
cmds=$("$pv" --help | awk '/^Commands:/ {on = 1; next} on && /^  [a-z]/ {print $1} on && /^$/ {exit}')
[ -n "$cmds" ] || { echo "gen-man.sh: no commands listed by '$pv --help'" >&2; exit 1; }
{
  printf '.TH PANSEVAL 1 "" "panseval %s" "User Commands"\n' "$version"
  printf '.SH NAME\npanseval \\- evaluate and benchmark 3D medical image segmentation\n'
  printf '.SH SYNOPSIS\n.B panseval\n.I command\n[\n.I options\n]\n'
  printf '.SH DESCRIPTION\n.nf\n'
  "$pv" --help | esc
  printf '.fi\n.SH COMMANDS\n'
  for c in $cmds; do
    printf '.SS "panseval %s"\n.nf\n' "$c"
    "$pv" "$c" --help | esc
    printf '.fi\n'
  done
  printf '.SH FILES\nThe documentation is installed in share/doc/panseval (README.md, docs/).\n'
  printf '.SH SEE ALSO\nThe C library: pkg-config --cflags --libs panseval, header <panseval/panseval.h>.\n'
} > "$tmp"
mv "$tmp" "$out"
trap - EXIT
