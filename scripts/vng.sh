#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# virtme-ng: boot the dev kernel on the host's own files.
#
#   vng.sh shell   an interactive shell in the guest (make shell): the guest
#                  sees the host's filesystem (read-only, with a writable
#                  overlay), starts in this directory, and can
#                  `insmod build/debug/kds/kds.ko`, then your own driver
#   vng.sh smoke   boot once, load and unload kds.ko, check the guest's log
#                  (make check runs it on the prod kernel, which boots in
#                  seconds under TCG; the debug kernel takes 1.5 minutes)
#
# virtme-ng is pinned (scripts/vng/requirements.txt) and installed from the
# Python registry into a venv in $KDS_CACHE/tools/vng. The guest uses KVM
# when /dev/kvm works, TCG otherwise (KDS_ACCEL=tcg forces it), 9p for the
# root filesystem, and the q35 machine (the kernel has virtio-pci, not
# virtio-mmio for microvm).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

mode=${1:-shell}
OUT=$(kds_out_dir)
KDIR=${KDIR:-$(kds_kbuild_dir)}
KERNEL=$KDIR/arch/x86/boot/bzImage
[ -f "$KERNEL" ] || kds_die "no kernel at $KERNEL (run make first)"
grep -qx CONFIG_NET_9P_VIRTIO=y "$KDIR/.config" ||
	kds_die "$KDIR has no 9p over virtio, which virtme-ng needs (the debug flavour has it: scripts/config/vng.config)"

venv=$KDS_CACHE/tools/vng
req=$KDS_ROOT/scripts/vng/requirements.txt
if ! cmp -s "$req" "$venv/requirements.txt" 2>/dev/null; then
	kds_log "installing virtme-ng into $venv"
	rm -rf "$venv"
	python3 -m venv "$venv" || kds_die "python3 -m venv failed (apt-get install python3-venv)"
	"$venv/bin/pip" install -q --disable-pip-version-check -r "$req" ||
		kds_die "pip could not install virtme-ng (is the Python registry reachable?)"
	cp "$req" "$venv/requirements.txt"
fi

# vng runs its helpers (virtme-run) from PATH.
export PATH="$venv/bin:$PATH"
# root=/dev/root: virtme-ng 1.42 leaves it out for a 9p root, and 7.3
# needs it as the mount source (the 9p mount tag). no5lvl: under TCG,
# QEMU's CPU model offers 5-level paging, which makes KASAN report a wild
# access early in boot (qemu-test/run.sh uses la57=off for the same).
# no_timer_check: see qemu-test/run.sh.
vng=("$venv/bin/vng" --run "$KERNEL" --force-9p --disable-microvm --cpus 2 --memory 1G
     --append "root=/dev/root no5lvl no_timer_check")
accel=${KDS_ACCEL:-}
if [ "$accel" != kvm ] && { [ "$accel" = tcg ] || ! [ -w /dev/kvm ] ||
	[ "$(cat "$KDS_CACHE"/kvm-probe-* 2>/dev/null | sort -u)" = tcg ]; }; then
	vng+=(--disable-kvm)
fi

case "$mode" in
shell)
	kds_log "virtme-ng: the guest sees this machine's files; try: insmod $OUT/kds/kds.ko; dmesg | tail"
	cd "$KDS_ROOT"
	exec "${vng[@]}" ;;
smoke)
	log=$OUT/vng-smoke.log
	mkdir -p "$OUT"
	cd "$KDS_ROOT"
	ko=$OUT/kds/kds.ko
	set +e
	timeout "${KDS_QEMU_TIMEOUT:-600}" "${vng[@]}" --append kunit.enable=0 --verbose --exec \
		"insmod $ko && echo KDS-VNG-LOADED && rmmod kds && echo KDS-VNG-UNLOADED" \
		</dev/null >"$log" 2>&1
	rc=$?
	set -e
	# vng's own exit status is 255 here: without udev in the guest there
	# is no /dev/virtio-ports for the script's status, so the script runs
	# on the console, and the markers in the log are the verdict.
	if [ $rc != 124 ] && grep -q '^KDS-VNG-LOADED' "$log" && grep -q '^KDS-VNG-UNLOADED' "$log"; then
		python3 "$KDS_ROOT/qemu-test/collect.py" --splats-only --console "$log" >/dev/null ||
			kds_die "virtme-ng boot: the guest log has a splat (see $log)"
		kds_log "virtme-ng: booted, loaded and unloaded kds.ko (log: $log)"
	else
		tail -n 20 "$log" >&2
		kds_die "virtme-ng smoke boot failed, exit $rc (log: $log)"
	fi ;;
*)
	kds_die "usage: vng.sh shell|smoke" ;;
esac
