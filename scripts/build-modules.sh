#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build kds.ko, then kds_test.ko, the sample driver kds_demo.ko,
# kds_torture.ko and kds_bench.ko against
# kds's Module.symvers, the way an out-of-tree driver links against kds. Output goes to build/ (MO=), the
# source tree stays clean.
#
# Usage: build-modules.sh [make arguments, e.g. CLIPPY=1 or clean]
# Against the kernel of $KDS_FLAVOUR (default debug) into build/<flavour>/,
# or against KDIR (your own kernel build) into build/kdir/.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

OUT=$(kds_out_dir)
KDIR=${KDIR:-$(kds_kbuild_dir)}
[ -f "$KDIR/Module.symvers" ] ||
	kds_die "no kernel build at $KDIR (make builds the dev kernel; KDIR= must name a built kernel tree)"
mkdir -p "$OUT/kds" "$OUT/kunit" "$OUT/samples" "$OUT/torture" "$OUT/bench"
# Clippy runs as part of every build when Debian's clippy-driver is there
# (KDS_CLIPPY=0 turns it off); Kbuild makes its warnings, like rustc's and
# the C compiler's, errors for kds.
clippy=()
if [ "${KDS_CLIPPY:-1}" = 1 ] && [ -x "$KDS_CLIPPY_DRIVER" ]; then
	clippy=(CLIPPY=1)
fi
# Warning-free means every tool: rustc, clippy and the C compiler fail the
# build themselves (-Dwarnings, -Werror), but objtool and modpost only
# print, so their warnings fail it here.
log=$OUT/build.log
: >"$log"
mmake() {
	make -C "$KDIR" "${KDS_KMAKE_FLAGS[@]}" "${clippy[@]}" "$@" 2>&1 | tee -a "$log"
	return "${PIPESTATUS[0]}"
}

mmake M="$KDS_ROOT" MO="$OUT/kds" "$@" ||
	kds_die "building kds.ko against $KDIR failed (see above)"
for dir in kunit samples torture bench; do
	mmake M="$KDS_ROOT/$dir" MO="$OUT/$dir" \
		KBUILD_EXTRA_SYMBOLS="$OUT/kds/Module.symvers" "$@" ||
		kds_die "building $dir/ against $KDIR failed (see above)"
done
if grep -E '(warning|WARNING):' "$log"; then
	kds_die "the module build printed warnings (above; log: $log)"
fi
