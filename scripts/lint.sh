#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# kds's style checks, as the kernel's maintainers run them.
#   lint.sh rustfmt     rustfmt --check with the kernel's .rustfmt.toml
#   lint.sh rustfmt-fix the same, rewriting the files
#   lint.sh clippy      rebuild the modules with CLIPPY=1 (warnings fail)
#   lint.sh checkpatch  scripts/checkpatch.pl on every C file and header, and
#                       scripts/kernel-doc -Wall on them (kernel-doc warnings fail)
#   lint.sh shellcheck  shellcheck on every shell script of the project
#   lint.sh layers      the crate's layering rules (Documentation/development.rst)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$KDS_ROOT"

case "${1:-}" in
rustfmt)
	[ -x "$KDS_RUSTFMT" ] || kds_die "$KDS_RUSTFMT not found (apt-get install rustfmt-web)"
	cfg=$KDS_KSRC/.rustfmt.toml
	[ -f "$cfg" ] || cfg=
	find rust -name '*.rs' -print0 |
		xargs -0 "$KDS_RUSTFMT" --check --edition 2021 ${cfg:+--config-path "$cfg"}
	kds_log "rustfmt: clean" ;;
rustfmt-fix)
	find rust -name '*.rs' -print0 |
		xargs -0 "$KDS_RUSTFMT" --edition 2021 --config-path "$KDS_KSRC/.rustfmt.toml" ;;
clippy)
	find rust -name '*.rs' -exec touch {} +
	KDS_CLIPPY=1 "$KDS_ROOT/scripts/build-modules.sh"
	kds_log "clippy: clean" ;;
checkpatch)
	mapfile -t files < <(git ls-files --cached --others --exclude-standard '*.c' '*.h' 2>/dev/null ||
		find . -name '*.[ch]' -not -path './build/*')
	mapfile -t others < <(printf '%s\n' "${files[@]}" | grep -vx c/kds_exports.c)
	cp=("$KDS_KSRC/scripts/checkpatch.pl" --no-tree --strict --terse --show-types
	    --ignore FILE_PATH_CHANGES)
	# c/kds_exports.c exports functions that are defined in Rust, so its
	# EXPORT_SYMBOL_GPL()s cannot follow their definitions.
	"${cp[@]}" --ignore EXPORT_SYMBOL -f c/kds_exports.c
	"${cp[@]}" -f "${others[@]}"
	kdoc=$("$KDS_KSRC/scripts/kernel-doc" -Wall -none "${files[@]}" 2>&1)
	[ -z "$kdoc" ] || { echo "$kdoc"; kds_die "kernel-doc warnings (see above)"; }
	kds_log "checkpatch, kernel-doc: clean" ;;
shellcheck)
	command -v shellcheck >/dev/null || kds_die "shellcheck not found (apt-get install shellcheck)"
	mapfile -t sh < <(grep -rlE '^#!(/usr/bin/env bash|/bin/(ba)?sh|/bin/busybox sh)' \
		scripts qemu-test .ci)
	shellcheck -x -P SCRIPTDIR "${sh[@]}" || kds_die "shellcheck found problems (see above)"
	kds_log "shellcheck: clean (${#sh[@]} scripts)" ;;
layers)
	# The core: everything in rust/ but the crate root, ffi.rs, the misuse
	# table (which both the core and the edge report to), capi and sys.
	mapfile -t core < <(find rust -name '*.rs' -not -path 'rust/sys*' -not -path 'rust/capi*' \
		-not -name ffi.rs -not -name kds_main.rs -not -name misuse.rs | sort)
	# The kds_* functions C drivers call: every EXPORT_SYMBOL_GPL.
	exports=$(sed -n 's/^EXPORT_SYMBOL_GPL(\(kds_[a-z_0-9]*\));/\1/p' c/*.c | sort -u | paste -sd'|')
	[ -n "$exports" ] || kds_die "layers: no EXPORT_SYMBOL_GPL found in c/"
	bad=0
	# 1. Declarations of C functions: rust/ffi.rs only.
	if grep -ln 'extern "C" *{' --include='*.rs' -r rust | grep -vx rust/ffi.rs; then
		echo "layers: extern \"C\" blocks outside rust/ffi.rs (above)"; bad=1
	fi
	# 2. The core never calls an export, the C API edge, or C directly.
	for f in "${core[@]}"; do
		# Outside the Rust tests, which use the API as a driver does.
		body=$(sed '/^#\[kunit_tests/,$d' "$f")
		if grep -nE "\\b($exports)\\(" <<<"$body" | grep -v '^[0-9]*: *//'; then
			echo "layers: $f calls a kds_* export (above)"; bad=1
		fi
		if grep -nE 'crate::capi\b|\bcapi::' <<<"$body" | grep -v '^[0-9]*: *//'; then
			echo "layers: $f uses the C API edge (above)"; bad=1
		fi
		if grep -nE 'extern "C" fn|#\[no_mangle\]' <<<"$body"; then
			echo "layers: $f defines a C-ABI function (above)"; bad=1
		fi
		# C only through rust/sys, but for the documented exception: the
		# dma_fence export is kds's own C (c/kds_dma_export.c).
		allowed='kds_dma_fence_sources|kds_dma_fence_timed_out'
		calls=$(perl -0777 -ne 'while (/crate::ffi::(\{[^}]*\}|\w+)/g) {
			print "$_\n" for grep { /^kds_/ } ($1 =~ /(\w+)/g) }' <<<"$body" |
			grep -vxE "$allowed" || true)
		if [ -n "$calls" ] || { [ "$f" != rust/fence/dma.rs ] &&
			grep -qE "\\b($allowed)\\b" <<<"$body"; }; then
			echo "layers: $f calls C other than through rust/sys: $calls"; bad=1
		fi
	done
	# 3. The kernel abstractions know nothing of the core or the edge.
	if grep -nE 'crate::(fence|resource|domain|capi|misuse)\b' rust/sys/*.rs; then
		echo "layers: rust/sys uses the core or the edge (above)"; bad=1
	fi
	[ "$bad" = 0 ] || kds_die "layering rules broken (see above)"
	kds_log "layers: clean (${#core[@]} core files)" ;;
*)
	kds_die "usage: lint.sh rustfmt|rustfmt-fix|clippy|checkpatch|shellcheck|layers" ;;
esac
