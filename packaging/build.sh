#!/usr/bin/env bash
# packaging/build.sh OUTDIR: the desktop bundle OUTDIR/medview/medview (one folder, PyInstaller).
#
# Makes its own build environment from /usr/bin/python3 (never the developer's venv): torch==2.13.0 first and
# alone (the CPU wheel; any other spec pulls CUDA), then the project with its pinned dependencies
# (pyproject.toml), then PyInstaller (requirements-build.txt). Run it under `nice -n 10` on a shared machine.
# Environment: MEDVIEW_BUILD_DIR (default OUTDIR/.build) holds the build venv and PyInstaller's work files.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: packaging/build.sh OUTDIR" >&2
  exit 2
fi
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$1"
OUT="$(cd "$1" && pwd)"
BUILD="${MEDVIEW_BUILD_DIR:-$OUT/.build}"
PYTHON=/usr/bin/python3
started=$(date +%s)
say() { echo "build.sh [$(( $(date +%s) - started )) s]: $*"; }

case "$OUT/" in
  "$ROOT/"*) echo "build.sh: OUTDIR must be outside the source tree ($ROOT)" >&2; exit 2 ;;
esac
if ! "$PYTHON" -c "import ensurepip, venv" 2>/dev/null; then
  if [ "$(id -u)" = "0" ]; then
    say "installing python3-venv"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  else
    echo "build.sh: $PYTHON has no venv module: install the Debian package python3-venv" >&2
    exit 2
  fi
fi

say "build environment in $BUILD/venv"
rm -rf "$BUILD"
"$PYTHON" -m venv "$BUILD/venv"
PIP=("$BUILD/venv/bin/python" -m pip --quiet)
"${PIP[@]}" install --upgrade pip
say "torch==2.13.0 (first and alone: the CPU wheel)"
"${PIP[@]}" install torch==2.13.0
say "medview and its pinned dependencies"
"${PIP[@]}" install "$ROOT"
say "PyInstaller"
"${PIP[@]}" install -r "$ROOT/packaging/requirements-build.txt"
if "$BUILD/venv/bin/python" -m pip list 2>/dev/null | grep -qi '^nvidia-'; then
  echo "build.sh: CUDA packages were pulled into the build environment; torch must be the CPU wheel" >&2
  exit 1
fi
"$BUILD/venv/bin/python" -c "import torch, sys; sys.exit(torch.version.cuda is not None)" \
  || { echo "build.sh: torch is not the CPU build" >&2; exit 1; }

say "PyInstaller (one folder)"
rm -rf "$OUT/medview"
(cd "$BUILD" && "$BUILD/venv/bin/python" -m PyInstaller --noconfirm --log-level WARN \
   --distpath "$OUT" --workpath "$BUILD/work" "$ROOT/packaging/medview.spec")
cp "$BUILD/work/medview/left-out.txt" "$OUT/medview/LEFT-OUT.txt" 2>/dev/null || true

# torch's two large libraries ship with their static symbol tables (.symtab), which only debuggers read:
# dynamic linking and torch's own backtraces use .dynsym, which --strip-unneeded keeps. (PyInstaller's
# strip=True would strip every library; this is the one measured and tested here.)
if command -v strip >/dev/null; then
  for lib in "$OUT"/medview/_internal/torch/lib/libtorch_cpu.so "$OUT"/medview/_internal/torch/lib/libtorch_python.so; do
    [ -f "$lib" ] || continue
    before=$(stat -c %s "$lib")
    strip --strip-unneeded "$lib"
    after=$(stat -c %s "$lib")
    awk -v b="$before" -v a="$after" -v name="${lib##*/_internal/}" 'BEGIN {
      printf "%8.1f MiB      1 file   symbol tables of %s (strip --strip-unneeded, after the sum above)\n",
        (b - a) / 1048576, name }' >> "$OUT/medview/LEFT-OUT.txt"
  done
else
  echo "build.sh: no strip (Debian: binutils): torch's symbol tables stay in the bundle (about 90 MiB)" >&2
fi

test -x "$OUT/medview/medview"
"$OUT/medview/medview" --version
size=$(du -sm "$OUT/medview" | cut -f1)
say "done: $OUT/medview/medview, ${size} MiB on disk ($(du -sh --apparent-size "$OUT/medview" | cut -f1) apparent)"
