#!/bin/sh
# Configure (once) and build panseval in ./build (release, -O2). Prints nothing on success
# beyond ninja's own progress.
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
if [ ! -f build/build.ninja ]; then
  meson setup build --buildtype=release >&2
fi
ninja -C build >&2
