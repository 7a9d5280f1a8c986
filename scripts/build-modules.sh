#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build kds.ko, then kds_test.ko and the sample driver kds_demo.ko against
# kds's Module.symvers, the way an out-of-tree driver links against kds. Output goes to build/ (MO=), the
# source tree stays clean.
#
# Usage: build-modules.sh [make arguments, e.g. CLIPPY=1 or clean]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

KDIR=${KDIR:-$(kds_kbuild_dir)}
OUT=$KDS_ROOT/build
mkdir -p "$OUT/kds" "$OUT/kunit" "$OUT/samples"
# Clippy runs as part of every build when Debian's clippy-driver is there
# (KDS_CLIPPY=0 turns it off); Kbuild makes its warnings, like rustc's and
# the C compiler's, errors for kds.
clippy=()
if [ "${KDS_CLIPPY:-1}" = 1 ] && [ -x "$KDS_CLIPPY_DRIVER" ]; then
	clippy=(CLIPPY=1)
fi
mmake() { make -C "$KDIR" "${KDS_KMAKE_FLAGS[@]}" "${clippy[@]}" "$@"; }

mmake M="$KDS_ROOT" MO="$OUT/kds" "$@"
for dir in kunit samples; do
	mmake M="$KDS_ROOT/$dir" MO="$OUT/$dir" \
		KBUILD_EXTRA_SYMBOLS="$OUT/kds/Module.symvers" "$@"
done
