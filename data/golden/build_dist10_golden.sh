#!/usr/bin/env bash
# Rebuild the dist10 golden reference in data/golden/ (see README.md there).
#
#   bash data/golden/build_dist10_golden.sh [MIRROR_GIT_DIR] [--ablation]
#
# MIRROR_GIT_DIR is a bare git clone of github.com/joncampbell123/iso-dist10
# (default: the snapshot at /work/.mirror/joncampbell123+iso-dist10/repo).
# The original ISO tarball orig/dist10.tar.xz is taken from its HEAD commit,
# unpacked into a temporary build directory, patched there (never in place),
# compiled, and driven by make_golden.py, which writes the .npz files.
# --ablation also builds one binary per switch turned off and prints how many
# frames each switch changes.  Nothing here is needed by CI.
#
# Environment: PYTHON (default <repo>/.venv/bin/python), CC (default gcc),
# DIST10_BUILD_DIR (default: a fresh mktemp -d; kept afterwards).
set -euo pipefail

MIRROR=/work/.mirror/joncampbell123+iso-dist10/repo
ABLATION=()
for arg in "$@"; do
  case "$arg" in
    --ablation) ABLATION=(--ablation) ;;
    *) MIRROR=$arg ;;
  esac
done

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=${PYTHON:-$ROOT/.venv/bin/python}
CC=${CC:-gcc}
BUILD=${DIST10_BUILD_DIR:-$(mktemp -d /tmp/dist10_golden.XXXXXX)}
mkdir -p "$BUILD"
BUILD=$(cd "$BUILD" && pwd)

COMMIT=$(git --git-dir="$MIRROR" rev-parse HEAD)
echo "dist10 snapshot: $MIRROR @ $COMMIT"
echo "build directory: $BUILD"

# ---------------------------------------------------------------- sources
rm -rf "$BUILD/src"
mkdir -p "$BUILD/src"
git --git-dir="$MIRROR" show "$COMMIT:orig/dist10.tar.xz" > "$BUILD/dist10.tar.xz"
TARBALL_SHA256=$(sha256sum "$BUILD/dist10.tar.xz" | cut -d' ' -f1)
tar -xJf "$BUILD/dist10.tar.xz" -C "$BUILD/src"
SRC=$BUILD/src/dist10/lsf/encoder
TABLES=$SRC/tables

# ---------------------------------------------------------------- patches
# Every modification is guarded by a macro, so that one patched copy builds
# both the native configuration and the switched ("Annex D") one.

# P0: tonal.c hard-wires LONDON, MAKE_SENSE and MI_OPTION with #define lines;
#     drop them so that the compiler command line chooses.
sed -i -e '/^#define LONDON /d' -e '/^#define MAKE_SENSE /d' -e '/^#define MI_OPTION /d' "$SRC/tonal.c"

# S1: power normalisation PN = 90.302 dB (Annex D) instead of 90.3090.
sed -i -e 's|^#define POWERNORM .*$|#ifdef ANNEXD_S1\n#define POWERNORM 90.302\n#else\n&\n#endif|' "$SRC/encoder.h"

# S3: tonal candidates start at line 3 (Annex D: 2 < k), not line 2.
sed -i -e 's|for(i=2;i<HAN_SIZE-12;i++){|for(i=ANNEXD_FIRST_CANDIDATE;i<HAN_SIZE-12;i++){|' \
       -e 's|for(i=2;i<HAN_SIZE/2-6;i++){|for(i=ANNEXD_FIRST_CANDIDATE;i<HAN_SIZE/2-6;i++){|' \
       -e 's|^int crit_band;$|#ifdef ANNEXD_S3\n#define ANNEXD_FIRST_CANDIDATE 3\n#else\n#define ANNEXD_FIRST_CANDIDATE 2\n#endif\n&|' \
       "$SRC/tonal.c"

# S4: non-tonal masker of a critical band at the geometric mean of the band's
#     lines, rint(exp(mean(log k))), k = cbound[i] .. cbound[i+1]-1
#     (used together with -DMI_OPTION, i.e. Iwadare's collision shift only).
sed -i -e 's|^     centre = (int)(pow(index,0.5)+0.5);$|#ifdef ANNEXD_S4\n     { int kk; double ls = 0.0;\n       for (kk = cbound[i]; kk < cbound[i+1]; kk++) ls += log((double) kk);\n       centre = (int) rint(exp(ls / (double) (cbound[i+1] - cbound[i]))); }\n#else\n&\n#endif|' \
       "$SRC/tonal.c"

# check that every patch applied exactly where intended
check() { local n; n=$(grep -c -- "$2" "$1" || true); [ "$n" = "$3" ] || { echo "patch check failed: '$2' in $1: $n (want $3)" >&2; exit 1; }; }
check "$SRC/tonal.c" '^#define \(LONDON\|MAKE_SENSE\|MI_OPTION\)' 0
check "$SRC/encoder.h" '^#define POWERNORM 90.302$' 1
check "$SRC/encoder.h" '^#define POWERNORM       90.3090' 1
check "$SRC/tonal.c" 'for(i=ANNEXD_FIRST_CANDIDATE;' 2
check "$SRC/tonal.c" 'for(i=2;' 0
check "$SRC/tonal.c" '^#define ANNEXD_FIRST_CANDIDATE' 2
check "$SRC/tonal.c" 'centre = (int) rint(exp(ls' 1
check "$SRC/tonal.c" 'centre = (int)(pow(index,0.5)+0.5);' 1
rm -rf "$BUILD/orig" && mkdir -p "$BUILD/orig" && tar -xJf "$BUILD/dist10.tar.xz" -C "$BUILD/orig"
(cd "$BUILD" && diff -u orig/dist10/lsf/encoder/tonal.c src/dist10/lsf/encoder/tonal.c;
                diff -u orig/dist10/lsf/encoder/encoder.h src/dist10/lsf/encoder/encoder.h) > "$BUILD/annexd_switches.patch" || true
echo "patch applied to the build copy: $BUILD/annexd_switches.patch"

# ---------------------------------------------------------------- compile
# K&R C with globals; -O0 so that nothing is made of its undefined corners.
# common.c's OpenTableFile (which has no return statement) is renamed away;
# the driver supplies one that reads from the tables directory.
# -ffunction-sections + --gc-sections drop the bitstream/file parts of
# encode.c and common.c that the driver never reaches.
DFLAGS="-std=gnu89 -w -O0 -ffunction-sections -fdata-sections"
OBJ=$BUILD/obj
mkdir -p "$OBJ"
$CC $DFLAGS -DOpenTableFile=dist10_unused_OpenTableFile -c "$SRC/common.c" -o "$OBJ/common.o"
$CC $DFLAGS -c "$SRC/encode.c" -o "$OBJ/encode.o"

variant() {  # variant NAME tonal.c/driver macros...
  local name=$1; shift
  $CC $DFLAGS "$@" -c "$SRC/tonal.c" -o "$OBJ/tonal_$name.o"
  $CC -std=gnu99 -w -O0 -I"$SRC" "$@" -c "$HERE/dist10_driver.c" -o "$OBJ/driver_$name.o"
  $CC -Wl,--gc-sections -o "$BUILD/d10_$name" "$OBJ/driver_$name.o" "$OBJ/tonal_$name.o" \
      "$OBJ/encode.o" "$OBJ/common.o" -lm
}
# golden: all source switches on (S2 and S5 are run-time arguments of the driver)
variant golden -DANNEXD_S1 -DANNEXD_S3 -DANNEXD_S4 -DMI_OPTION
# native: dist10 as its comments describe the default path (no LONDON, no MAKE_SENSE, no MI_OPTION)
variant native
# shipped: tonal.c as distributed, i.e. with its three #defines (LONDON, MAKE_SENSE, MI_OPTION) on
variant shipped -DLONDON -DMAKE_SENSE -DMI_OPTION
if [ ${#ABLATION[@]} -gt 0 ]; then   # golden with one source switch off
  variant noS1 -DANNEXD_S3 -DANNEXD_S4 -DMI_OPTION
  variant noS3 -DANNEXD_S1 -DANNEXD_S4 -DMI_OPTION
  variant noS4 -DANNEXD_S1 -DANNEXD_S3
fi

# ---------------------------------------------------------------- run
cd "$ROOT"
"$PY" "$HERE/make_golden.py" --build "$BUILD" --tables "$TABLES" --commit "$COMMIT" \
      --mirror "$MIRROR" --tarball-sha256 "$TARBALL_SHA256" "${ABLATION[@]}"
