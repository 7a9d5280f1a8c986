#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Boot the kds dev kernel in QEMU with kds's modules in a busybox initramfs.
#
# Usage: qemu-test/run.sh check|demo|shell
#   check  load kds.ko, the test modules and README's example driver,
#          collect every KUnit suite, unload, scan for leaks; print a
#          summary and `flavour F: N passed, N failed`; write the counts to
#          build/<flavour>/qemu/counts; exit non-zero on any failure,
#          missing suite or kernel splat.
#   demo   load kds.ko and show what it does (make run).
#   shell  an interactive busybox shell on the serial console (`make shell`
#          boots with virtme-ng instead; this one needs no host files).
#   torture  kds_torture for DURATION seconds (default 60; SEED, THREADS,
#          FAILSLAB=0 to turn failing allocations off), then a verdict.
#   bench  kds_bench (BENCH_ARGS, e.g. quick=1), then bench/report.py:
#          the table, build/bench/results.csv and ratios.svg.
#   lockdep  kds_lockdep_test's cases, each in a boot of its own: each
#          deadlock case must get lockdep's report, the classes case none;
#          prints one ok/not ok line per case, writes the counts to
#          build/<flavour>/qemu/lockdep-counts (a kernel without lockdep
#          skips them).
#
# Environment: KDS_FLAVOUR (debug, prod or rt; default debug), or KDIR for
# your own kernel build; KUNIT_FILTER (kunit.filter_glob, default 'kds*'),
# KDS_QEMU_TIMEOUT (seconds, default 1200), KDS_QEMU_MEM (default 1G),
# KDS_ACCEL (kvm or tcg; default: probe once whether KVM boots a guest).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../scripts/lib.sh"

mode=${1:-check}
OUT=$(kds_out_dir)
KDIR=${KDIR:-$(kds_kbuild_dir)}
label=${KDS_FLAVOUR}
[ "$OUT" = "$KDS_ROOT/build/kdir" ] && label=kdir
RUN=$OUT/qemu
mkdir -p "$RUN"
KERNEL=$KDIR/arch/x86/boot/bzImage
[ -f "$KERNEL" ] || kds_die "no kernel at $KERNEL (run make KDS_FLAVOUR=$KDS_FLAVOUR first)"

# The modules, in load order. kds_test and README's example driver
# (scripts/readme-driver.sh builds it as README says) depend on kds.
MODULES=(kds kds_test)
declare -A KO=([kds]=$OUT/kds/kds.ko [kds_test]=$OUT/kunit/kds_test.ko)
[ -f "$OUT/mydrv/mydrv.ko" ] && { MODULES+=(mydrv); KO[mydrv]=$OUT/mydrv/mydrv.ko; }
# The sample driver is loaded by the demo only.
[ -f "$OUT/samples/kds_demo.ko" ] && { MODULES+=(kds_demo); KO[kds_demo]=$OUT/samples/kds_demo.ko; }

# --- initramfs -------------------------------------------------------------
root=$RUN/initramfs
rm -rf "$root"
mkdir -p "$root"/{bin,dev,proc,sys,tmp,lib/modules/kds}
cp /bin/busybox "$root/bin/busybox"
cp "$here/init" "$root/init"
cp "$here/demo.sh" "$root/demo.sh"
# Loaded by /init's tracing, torture and unload-with-armed-sources phases,
# not in load-order.
for extra in kunit/kds_unload_test.ko kunit/kds_lockdep_test.ko kunit/kds_trace_test.ko \
	     torture/kds_torture.ko bench/kds_bench.ko; do
	[ -f "$OUT/$extra" ] && cp "$OUT/$extra" "$root/lib/modules/kds/"
done
for m in "${MODULES[@]}"; do
	cp "${KO[$m]}" "$root/lib/modules/kds/"
	[ "$m" = kds_demo ] || echo "$m" >>"$root/lib/modules/kds/load-order"
done
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$RUN/initramfs.cpio.gz"

# --- accelerator -------------------------------------------------------------
QEMU=qemu-system-x86_64
qemu_base=(-machine q35 -smp 2 -m "${KDS_QEMU_MEM:-1G}" -no-reboot -display none
	   -monitor none -kernel "$KERNEL" -initrd "$RUN/initramfs.cpio.gz")

probe_kvm() {
	[ -w /dev/kvm ] || return 1
	local log=$RUN/kvm-probe.log
	timeout 30 "$QEMU" "${qemu_base[@]}" -accel kvm -cpu host \
		-append "console=ttyS0 panic=-1 no_timer_check kds.mode=probe" \
		-serial "file:$log" -serial null >/dev/null 2>&1 || true
	grep -q KDS-PROBE-OK "$log"
}
accel=${KDS_ACCEL:-}
if [ -z "$accel" ]; then
	probe_file=$KDS_CACHE/kvm-probe-$label-$(kds_cache_key 2>/dev/null || echo kdir)
	if [ -f "$probe_file" ]; then
		accel=$(cat "$probe_file")
	else
		if probe_kvm; then accel=kvm; else accel=tcg; fi
		echo "$accel" >"$probe_file"
	fi
fi
if [ "$accel" = kvm ]; then
	qemu_accel=(-accel kvm -cpu host)
else
	qemu_accel=(-accel tcg -cpu "max,la57=off")
fi

# Every kds suite is named kds_*; the filter also keeps the kernel's own
# built-in suites (a few Rust ones are not behind any option) from running.
# no_timer_check: under TCG on a busy host, the IO-APIC timer check at boot
# can miss its ticks and panic ("IO-APIC + timer doesn't work!"); virtual
# machines' kernel command lines commonly skip it.
cmdline="console=ttyS0 panic=-1 no_timer_check slab_debug=F kds.mode=$mode kunit.filter_glob=${KUNIT_FILTER:-kds*}"

# --- run ---------------------------------------------------------------------
case "$mode" in
shell)
	exec "$QEMU" "${qemu_base[@]}" "${qemu_accel[@]}" -append "$cmdline" \
		-serial mon:stdio -serial null ;;
demo)
	log=$RUN/demo.log
	kds_log "booting the $label kernel ($accel); guest log: $log"
	set +e
	# The demo, but for graph.dot's text: it is rendered below.
	timeout "${KDS_QEMU_TIMEOUT:-600}" "$QEMU" "${qemu_base[@]}" "${qemu_accel[@]}" \
		-append "$cmdline quiet kunit.enable=0" -serial stdio -serial null </dev/null |
		tr -d '\r' | tee "$log" | sed -n '/=== kds demo ===/,/=== end of demo ===/{
			/^=== graph.dot begin ===$/,/^=== graph.dot end ===$/!p
			/^=== graph.dot end ===$/s/.*/(graph.dot: rendered after the demo)/p
		}'
	set -e
	grep -q "=== end of demo ===" "$log" || kds_die "the demo did not finish; see $log"
	# The dependency graph the guest captured mid-demo, without the kernel
	# messages the console may have interleaved.
	demo=$KDS_ROOT/build/demo
	mkdir -p "$demo"
	rm -f "$demo/graph.dot" "$demo/graph.svg"
	if ! grep -qx '=== graph.dot begin ===' "$log" || ! grep -qx '=== graph.dot end ===' "$log"; then
		kds_die "the demo printed no graph.dot (its markers are missing); see $log"
	fi
	awk '/^=== graph.dot end ===$/ { exit }
	     on && !/^\[ *[0-9]+\.[0-9]+\] / { print }
	     /^=== graph.dot begin ===$/ { on = 1 }' "$log" >"$demo/graph.dot"
	[ -s "$demo/graph.dot" ] || kds_die "the demo's graph.dot is empty; see $log"
	show=$demo
	[ "$PWD" = "$KDS_ROOT" ] && show=build/demo
	if command -v dot >/dev/null; then
		dot -Tsvg "$demo/graph.dot" -o "$demo/graph.svg" ||
			kds_die "Graphviz could not render $show/graph.dot"
		shown=$show/graph.svg
	else
		kds_log "Graphviz is missing: graph.dot is not rendered (apt-get install graphviz)"
		shown="$show/graph.dot (apt-get install graphviz to render it)"
	fi
	python3 "$here/collect.py" --splats-only --console "$log"
	echo "The dependency graph mid-demo: $shown"
	;;
check)
	log=$RUN/console.log
	results=$RUN/results.txt
	rm -f "$log" "$results"
	kds_log "booting the $label kernel ($accel, -smp 2) to run KUnit${KUNIT_FILTER:+ (filter: $KUNIT_FILTER)}"
	start=$SECONDS
	set +e
	timeout "${KDS_QEMU_TIMEOUT:-1200}" "$QEMU" "${qemu_base[@]}" "${qemu_accel[@]}" \
		-append "$cmdline" -serial "file:$log" -serial "file:$results" </dev/null
	qrc=$?
	set -e
	kds_log "guest ran for $((SECONDS - start)) s (qemu exit $qrc)"
	kds_log "guest log: $log"
	kds_log "results:   $results"
	ko_args=()
	for m in "${MODULES[@]}"; do ko_args+=(--module "$m=${KO[$m]}"); done
	# A kernel without kmemleak (prod, rt) cannot scan: that check skips.
	leak_args=()
	grep -qx CONFIG_DEBUG_KMEMLEAK=y "$KDIR/.config" 2>/dev/null && leak_args=(--expect-kmemleak)
	exec python3 "$here/collect.py" --console "$log" --results "$results" \
		--ksrc "$KDS_KSRC" --qemu-rc "$qrc" --label "$label" \
		--counts "$RUN/counts" "${leak_args[@]}" \
		${KUNIT_FILTER:+--filtered} "${ko_args[@]}"
	;;
torture)
	log=$RUN/torture-console.log
	results=$RUN/torture-results.txt
	rm -f "$log" "$results"
	duration=${DURATION:-60}
	targs="duration=$duration${SEED:+,seed=$SEED}${THREADS:+,threads=$THREADS}"
	grep -qx CONFIG_FAILSLAB=y "$KDIR/.config" && targs+=",failslab=${FAILSLAB:-1}"
	kds_log "booting the $label kernel ($accel, -smp 2): kds_torture $targs"
	set +e
	timeout $((duration + 600)) "$QEMU" "${qemu_base[@]}" "${qemu_accel[@]}" \
		-append "${cmdline/kds.mode=torture/kds.mode=torture kds.torture=$targs} kunit.enable=0" \
		-serial "file:$log" -serial "file:$results" </dev/null
	qrc=$?
	set -e
	grep -E 'kds_torture: ' "$log" | sed 's/^\[ *[0-9.]*\] //' || true
	exec python3 "$here/collect.py" --console "$log" --results "$results" \
		--qemu-rc "$qrc" --label "$label" --torture --module "kds=${KO[kds]}"
	;;
bench)
	# BENCH_ARGS: kds_bench parameters, e.g. "quick=1" or "reps=11".
	log=$RUN/bench-console.log
	results=$RUN/bench-results.txt
	rm -f "$log" "$results"
	bargs=${BENCH_ARGS:-}
	# As a production kernel runs: no slab debugging, for kds or its peers.
	bcmdline=${cmdline/ slab_debug=F/}
	kds_log "booting the $label kernel ($accel, -smp 2): kds_bench ${bargs:-(defaults)}"
	set +e
	timeout "${KDS_QEMU_TIMEOUT:-1800}" "$QEMU" "${qemu_base[@]}" "${qemu_accel[@]}" \
		-append "${bcmdline/kds.mode=bench/kds.mode=bench kds.bench=${bargs// /,}} kunit.enable=0" \
		-serial "file:$log" -serial "file:$results" </dev/null
	qrc=$?
	set -e
	# Debian's python3, for whom setup.sh installed python3-matplotlib.
	py=python3
	[ -x /usr/bin/python3 ] && py=/usr/bin/python3
	exec "$py" "$here/../bench/report.py" --console "$log" --results "$results" \
		--qemu-rc "$qrc" --label "$label" --out "$KDS_ROOT/build/bench" \
		${KDS_BENCH_SMOKE:+--smoke}
	;;
lockdep)
	# CASE:REGEX..., every regex required in the console log; "none" for
	# the case that must have no splat at all.
	circ='possible circular locking dependency detected'
	cases=(
		"wait:$circ:\(kds_async\)\{:kds_lockdep_L"
		"chain:$circ:\(kds_fence\)\{:kds_lockdep_L"
		"reclaim:$circ:dma_fence_map:fs_reclaim"
		"grant:$circ:\(kds_resource_set\)\{:kds_lockdep_L"
		"classes:none"
	)
	counts=$RUN/lockdep-counts
	if ! grep -qx CONFIG_PROVE_LOCKING=y "$KDIR/.config" 2>/dev/null; then
		kds_log "the $label kernel has no lockdep: ${#cases[@]} lockdep cases skipped"
		echo "0 0 ${#cases[@]}" >"$counts"
		exit 0
	fi
	p=0 x=0 n=0
	for c in "${cases[@]}"; do
		n=$((n + 1))
		name=${c%%:*}
		log=$RUN/lockdep-$name.log
		set +e
		timeout "${KDS_QEMU_TIMEOUT:-600}" "$QEMU" "${qemu_base[@]}" "${qemu_accel[@]}" \
			-append "$cmdline kds.lockdep=$name kunit.enable=0" \
			-serial "file:$log" -serial null </dev/null
		set -e
		tr -d '\r' <"$log" >"$log.txt"
		why=""
		grep -q "case $name ran: 0" "$log.txt" || why="the case did not run to the end"
		grep -q KDS-LOCKDEP-DONE "$log.txt" || why="the guest did not finish"
		if [ "${c#*:}" = none ]; then
			grep -q "case $name ran: 0; lockdep on" "$log.txt" || why="lockdep turned off"
			if python3 "$here/collect.py" --splats-only --console "$log.txt" >/dev/null; then :; else
				why="a splat (lockdep must not report unrelated classes)"
			fi
		else
			IFS=: read -r -a res <<<"${c#*:}"
			for re in "${res[@]}"; do
				grep -Eq "$re" "$log.txt" || why="no '$re' in lockdep's report"
			done
			# lockdep's report, and nothing else: one warning in all.
			nw=$(grep -c 'WARNING:' "$log.txt" || true)
			[ "$nw" = 1 ] || why="$nw warnings; exactly one, lockdep's, is required"
			grep -q '\*\*\* DEADLOCK \*\*\*' "$log.txt" || why="no deadlock scenario in the report"
		fi
		if [ -z "$why" ]; then
			echo "ok $n - lockdep: $name (log: $log.txt)"
			p=$((p + 1))
		else
			echo "not ok $n - lockdep: $name: $why (log: $log.txt)"
			x=$((x + 1))
		fi
	done
	echo "$p $x 0" >"$counts"
	[ "$x" = 0 ]
	;;
*)
	kds_die "unknown mode '$mode' (check, demo, shell, torture, bench or lockdep)" ;;
esac
