#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make check: everything, on every kernel flavour asked for.
#
#   host checks   the fresh-machine set-up test, rustfmt, checkpatch and
#                 kernel-doc, shellcheck; a virtme-ng smoke boot (debug)
#   per flavour   build its kernel (cached), build kds, its tests and the
#                 sample with clippy (no warning, objtool's included), build
#                 README's driver as README says, boot the guest and run
#                 every suite (qemu-test/run.sh check)
#
# KDS_FLAVOURS=debug,prod,rt (default) or any of them; with KDIR set,
# the one kernel it names. Ends with one line per flavour, one for the
# host checks, then `N passed, N failed[, N skipped]`; exits non-zero if
# anything failed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$KDS_ROOT"

if [ -n "${KDIR:-}" ]; then
	flavours=(kdir)
else
	IFS=, read -r -a flavours <<<"${KDS_FLAVOURS:-debug,prod,rt}"
	for f in "${flavours[@]}"; do kds_fragments "$f" >/dev/null; done
fi

declare -A pass=() fail=() skip=()
failures=()
count() { # GROUP passed failed skipped
	pass[$1]=$((${pass[$1]:-0} + $2))
	fail[$1]=$((${fail[$1]:-0} + $3))
	skip[$1]=$((${skip[$1]:-0} + $4))
}
# add_counts GROUP FILE WHAT: the 'passed failed skipped' a run wrote to
# FILE; a missing FILE is one failure (WHAT reported nothing).
add_counts() {
	local p x s
	if [ -f "$2" ]; then
		read -r p x s <"$2"
		count "$1" "$p" "$x" "$s"
		[ "$x" = 0 ] || failures+=("$1: $x in $3 (see above)")
	else
		count "$1" 0 1 0
		failures+=("$1: $3 reported nothing")
	fi
}
# step GROUP NAME COMMAND...: one check, passed if COMMAND succeeds.
step() {
	local group=$1 name=$2
	shift 2
	if "$@"; then
		count "$group" 1 0 0
	else
		count "$group" 0 1 0
		failures+=("$group: $name")
		kds_log "FAILED: $name"
	fi
}

start=$SECONDS
scripts/setup.sh

# The set-up test prints one "ok"/"not ok" line per check, three in all;
# fewer means it died on the way, which is a failure too.
setup_lines=0
while IFS= read -r line; do
	echo "$line"
	case "$line" in
	"ok "*) count host 1 0 0; setup_lines=$((setup_lines + 1)) ;;
	"not ok "*) count host 0 1 0; setup_lines=$((setup_lines + 1))
		failures+=("host: ${line#not ok }") ;;
	esac
done < <(scripts/test-setup.sh 2>&1 || true)
if [ "$setup_lines" != 3 ]; then
	count host 0 1 0
	failures+=("host: the set-up test reported $setup_lines of its 3 checks")
fi

[ -n "${KDIR:-}" ] || scripts/fetch-kernel.sh
step host "rustfmt" scripts/lint.sh rustfmt
step host "checkpatch and kernel-doc" scripts/lint.sh checkpatch
step host "shellcheck" scripts/lint.sh shellcheck
step host "layering rules" scripts/lint.sh layers

for f in "${flavours[@]}"; do
	export KDS_FLAVOUR=$f
	out=$(kds_out_dir)
	[ -n "${KDIR:-}" ] || scripts/build-kernel.sh "$f"
	rm -f "$out/qemu/counts"
	if ! scripts/build-modules.sh; then
		count "$f" 0 1 0
		failures+=("$f: build (guest not run)")
		continue
	fi
	step "$f" "README's driver builds as written" scripts/readme-driver.sh "$out"
	qemu-test/run.sh check || true
	# kds_bench, once and briefly, on prod: a smoke test, so that it
	# cannot rot (its numbers are not checked; make bench is for those).
	if [ "$f" = prod ]; then
		rm -f build/bench/counts
		KDS_BENCH_SMOKE=1 BENCH_ARGS="quick=1 reps=3" qemu-test/run.sh bench || true
		add_counts "$f" build/bench/counts "the benchmark smoke run"
	fi
	# Deadlocks lockdep must report, each in a boot of its own.
	rm -f "$out/qemu/lockdep-counts"
	qemu-test/run.sh lockdep || true
	add_counts "$f" "$out/qemu/lockdep-counts" "the lockdep boots"
	add_counts "$f" "$out/qemu/counts" "the guest"
done

# virtme-ng: on prod, whose boot under TCG takes seconds (debug: 1.5 min).
for f in prod debug; do
	if [[ " ${flavours[*]} " == *" $f "* ]]; then
		KDS_FLAVOUR=$f step host "virtme-ng boots the $f kernel and loads kds" scripts/vng.sh smoke
		break
	fi
done

echo
total_p=0 total_f=0 total_s=0
for g in "${flavours[@]}" host; do
	line="${pass[$g]:-0} passed, ${fail[$g]:-0} failed"
	[ "${skip[$g]:-0}" = 0 ] || line+=", ${skip[$g]} skipped"
	if [ "$g" = host ]; then echo "host checks: $line"; else echo "flavour $g: $line"; fi
	total_p=$((total_p + ${pass[$g]:-0}))
	total_f=$((total_f + ${fail[$g]:-0}))
	total_s=$((total_s + ${skip[$g]:-0}))
done
for x in "${failures[@]}"; do echo "  failed: $x"; done
kds_log "make check took $((SECONDS - start)) s"
line="$total_p passed, $total_f failed"
[ "$total_s" = 0 ] || line+=", $total_s skipped"
echo "$line"
[ "$total_f" = 0 ]
