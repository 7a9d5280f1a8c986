#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# kds's style checks, as the kernel's maintainers run them.
#   lint.sh rustfmt     rustfmt --check with the kernel's .rustfmt.toml
#   lint.sh rustfmt-fix the same, rewriting the files
#   lint.sh clippy      rebuild the modules with CLIPPY=1 (warnings fail)
#   lint.sh checkpatch  scripts/checkpatch.pl on every C file and header, and
#                       scripts/kernel-doc -Wall on them (kernel-doc warnings fail)
#   lint.sh shellcheck  shellcheck on every shell script of the project
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
	mapfile -t others < <(printf '%s\n' "${files[@]}" | grep -vx kds_exports.c)
	cp=("$KDS_KSRC/scripts/checkpatch.pl" --no-tree --strict --terse --show-types
	    --ignore FILE_PATH_CHANGES)
	# kds_exports.c exports functions that are defined in Rust, so its
	# EXPORT_SYMBOL_GPL()s cannot follow their definitions.
	"${cp[@]}" --ignore EXPORT_SYMBOL -f kds_exports.c
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
*)
	kds_die "usage: lint.sh rustfmt|rustfmt-fix|clippy|checkpatch|shellcheck" ;;
esac
