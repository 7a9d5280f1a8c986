#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make driver M=/path/to/driver`: build your out-of-tree module against the
# kds dev kernel (or KDIR) and kds's Module.symvers, with the toolchain the
# kernel was built with (LLVM=-19, Debian's rustc), so that nothing about
# it can differ from kds's own build. kds.ko is built first if needed.
#
# Usage: build-driver.sh M [make arguments, e.g. clean]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

M=${1:-}
[ -n "$M" ] || kds_die "no driver directory (make driver M=/path/to/driver)"
shift
[ -d "$M" ] || kds_die "M=$M is not a directory (make driver M=/path/to/driver)"
M=$(cd "$M" && pwd)
[ -f "$M/Kbuild" ] || [ -f "$M/Makefile" ] ||
	kds_die "$M has no Kbuild or Makefile (see README: Using kds from a driver)"

OUT=$(kds_out_dir)
KDIR=${KDIR:-$(kds_kbuild_dir)}
symvers=$OUT/kds/Module.symvers
[ -f "$symvers" ] || kds_die "no $symvers (make KDS_FLAVOUR=$KDS_FLAVOUR builds it)"
make -C "$KDIR" "${KDS_KMAKE_FLAGS[@]}" M="$M" KBUILD_EXTRA_SYMBOLS="$symvers" \
	"${@:-modules}" ||
	kds_die "building the driver in $M failed (see above)"
