#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build one flavour of the kds dev kernel out of tree, once per cache key.
#
# Usage: build-kernel.sh [debug|prod|rt]   (default: $KDS_FLAVOUR, or debug)
#
# tinyconfig + the flavour's fragments (kds_fragments in lib.sh), then
# every requested option is
# checked in the final .config: Kconfig silently drops an option whose
# dependencies are unmet, and a debug kernel without, say, KASAN would let
# bugs through quietly. The build directory is $(kds_kbuild_dir); its
# .kds-complete holds the cache key of the finished build.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
KDS_FLAVOUR=${1:-$KDS_FLAVOUR}
read -r -a fragments <<<"$(kds_fragments)"

O=$(kds_kbuild_dir)
if kds_kbuild_current; then
	exit 0
fi

kmake() { make -C "$KDS_KSRC" O="$O" "${KDS_KMAKE_FLAGS[@]}" "$@"; }

mkdir -p "$O"
rm -f "$O/.kds-complete"
kds_log "building the $KDS_FLAVOUR kernel in $O (6 to 10 minutes on 2 cores the first time)"
kmake -s tinyconfig >/dev/null
KCONFIG_CONFIG="$O/.config" "$KDS_KSRC/scripts/kconfig/merge_config.sh" \
	-m -O "$O" "$O/.config" "${fragments[@]}" >"$O/merge_config.log" ||
	kds_die "merging the config fragments failed (see $O/merge_config.log)"
kmake -s olddefconfig >/dev/null

# Every line of every fragment must have survived.
bad=0
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=*)
		grep -qxF "$line" "$O/.config" || {
			have=$(grep -E "^(# )?${line%%=*}[= ]" "$O/.config" || echo "absent")
			kds_log "config: asked for '$line', got '$have'"
			bad=1
		} ;;
	"# CONFIG_"*" is not set")
		opt=${line#\# }; opt=${opt%% *}
		! grep -q "^$opt=" "$O/.config" || {
			kds_log "config: asked for '$line', got '$(grep "^$opt=" "$O/.config")'"
			bad=1
		} ;;
	esac
done < <(cat "${fragments[@]}")
[ $bad = 0 ] || kds_die "the $KDS_FLAVOUR kernel config dropped options (see above; fix their dependencies in scripts/config/)"

kmake rustavailable >/dev/null || kds_die "Rust is not available to the kernel build: $(kmake rustavailable 2>&1 | tail -n3)"

# Progress for CI: one line per 500 lines of build output.
start=$SECONDS
kmake -j"$(nproc)" bzImage modules 2>&1 | tee "$O/build.log" |
	awk '{ n++ } n % 500 == 0 { printf "[kds] kernel build: %d steps, %s\n", n, $NF; fflush() }
	     /(error|warning):|Error [0-9]/ { print; fflush() }'
[ "${PIPESTATUS[0]}" = 0 ] || kds_die "the $KDS_FLAVOUR kernel build failed (read $O/build.log; make distclean starts over)"
kmake -s modules_prepare >/dev/null
if ! [ -f "$O/Module.symvers" ] || ! [ -f "$O/arch/x86/boot/bzImage" ]; then
	kds_die "the $KDS_FLAVOUR kernel build produced no bzImage or Module.symvers (make distclean starts over)"
fi
kds_log "$KDS_FLAVOUR kernel built in $((SECONDS - start)) s"
kds_cache_key >"$O/.kds-complete"
