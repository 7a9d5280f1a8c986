#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build README's example driver exactly as README says: copy its blocks
# marked `<!-- readme-driver: NAME -->` into DIR/mydrv/, replace
# /path/to/kds with this checkout, and run README's build command there.
# Usage: readme-driver.sh DIR   (with KDS_FLAVOUR or KDIR as for make)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

dir=${1:?usage: readme-driver.sh DIR}
rm -rf "$dir/mydrv"
mkdir -p "$dir/mydrv"
awk -v out="$dir/mydrv" '
	/^<!-- readme-driver: [^ ]+ -->$/ { name = $3; want = 1; next }
	want && /^```/ { if (inblk) { inblk = 0; want = 0; close(out "/" name) } else inblk = 1; next }
	inblk { print > (out "/" name) }
' "$KDS_ROOT/README.md"
for f in Kbuild mydrv.c build; do
	[ -s "$dir/mydrv/$f" ] || kds_die "README.md has no readme-driver block '$f'"
done
sed -i "s|/path/to/kds|$KDS_ROOT|g" "$dir/mydrv/Kbuild" "$dir/mydrv/build"
(cd "$dir/mydrv" && bash -e ./build) >"$dir/mydrv/build.log" 2>&1 || {
	tail -n 20 "$dir/mydrv/build.log" >&2
	kds_die "README's driver did not build as written (log: $dir/mydrv/build.log)"
}
[ -f "$dir/mydrv/mydrv.ko" ] || kds_die "README's build command made no mydrv.ko"
