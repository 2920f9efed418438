#!/bin/sh
# Install the Debian 12 packages panseval needs to build and test (only the missing ones).
# Usage: scripts/deps.sh [--reference | --bench | --mpi]
#   (always: the build with OpenMPI (the mpirun tests of scripts/test), plus clang, libomp-dev
#   and cppcheck for the gate of scripts/test)
#   --reference  also what the scripts in tests/reference/ use (to regenerate golden files)
#   --bench      also the peers that the scripts in bench/ measure against
#   --mpi        kept for old scripts: OpenMPI is now always installed
set -eu
pkgs="build-essential meson ninja-build pkg-config libnifti2-dev libgsl-dev check libdeflate-dev
      zlib1g-dev libpng-dev libdnnl-dev man-db chromium clang libomp-dev cppcheck
      libopenmpi-dev openmpi-bin"
case "${1:-}" in
  --reference)
    pkgs="$pkgs python3-numpy python3-scipy python3-nibabel python3-sklearn python3-statsmodels
          python3-skimage python3-torch python3-mpmath r-base-core plastimatch" ;;
  --bench)
    pkgs="$pkgs libdeflate-tools plastimatch python3-numpy python3-nibabel python3-scipy
          python3-torch time hyperfine" ;;
  --mpi)
    pkgs="$pkgs libopenmpi-dev openmpi-bin" ;;
  "") ;;
  *) echo "usage: scripts/deps.sh [--reference | --bench | --mpi]" >&2; exit 2 ;;
esac
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "panseval: installing Debian packages:$missing" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >&2
fi
