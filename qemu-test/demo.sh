#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The kds demo, run in the guest by `make run`: kds.ko, then the sample
# driver (samples/kds_demo.c), which stops mid-way. While it is stuck,
# kds's debugfs files show it, graph.dot goes out between marker lines
# (run.sh renders it on the host), and kds blames what the hand-off
# waits for. Then the driver is released, and both modules unload.
M=/lib/modules/kds
D=/sys/kernel/debug/kds
GO=/sys/module/kds_demo/parameters/go
BLAME_MS=/sys/module/kds/parameters/blame_ms
LOG=/tmp/kds-demo.log

# The kernel log since the last call, without timestamps, indented (and
# kept in $LOG).
news() {
	dmesg -c | sed 's/^\[ *[0-9.]*\] //' | tee -a $LOG | sed 's/^/  /'
}

# waitlog PATTERN SECONDS: wait until the kernel log has a line matching
# PATTERN (a line that news has not printed yet); fail after SECONDS.
waitlog() {
	n=0
	until dmesg | grep -q "$1"; do
		n=$((n + 1))
		[ "$n" -ge $(($2 * 10)) ] && return 1
		usleep 100000
	done
}

echo
echo "=== kds demo ==="
insmod $M/kds.ko || { echo "kds.ko failed to load"; exit 1; }
echo "kds.ko loaded: $(dmesg | sed -n 's/.*kds: version \([0-9.]*\) loaded/kds \1 loaded/p' | tail -n1)"
echo
echo "The C API it exports to drivers (EXPORT_SYMBOL_GPL):"
grep -E ' __ksymtab_kds_[a-z0-9_]+\s+\[kds\]' /proc/kallsyms | sed 's/.*__ksymtab_\([a-z0-9_]*\).*/  \1/' | sort -u
dmesg -c >/dev/null
echo
if [ -w $BLAME_MS ]; then
	echo 200 >$BLAME_MS
	echo "kds.blame_ms=200: a wait that lasts 200 ms prints what it waits for."
fi
echo "A sample driver (samples/kds_demo.c) sets up a device, demo0, and stops mid-way:"
echo "  probe     an async graph of phases; the firmware phase waits for a fence"
echo "            that awaits a completion: the firmware image, not there yet;"
echo "  engines   engine A holds buffer 0 exclusively while its hardware job (a"
echo "            bounded fence) runs; engine B wants buffer 0 shared and buffer 1"
echo "            exclusive: its resource set waits, and its job after it;"
echo "  hand-off  a bounded fence awaiting engine A's job, exported as a dma_fence,"
echo "            for which an encoder (another driver) waits with"
echo "            dma_fence_wait_timeout()."
echo
echo "insmod kds_demo.ko"
if ! insmod $M/kds_demo.ko; then
	echo "kds_demo.ko failed to load:"
	news
	exit 1
fi
if ! waitlog 'probe:firmware: waits' 20 || ! waitlog 'encoder: waits' 20; then
	echo "(kds_demo did not get stuck where expected within 20 s)"
fi
# Time for kds.blame_ms to catch the stuck waits.
sleep 1
news

echo
if [ -d $D ]; then
	for f in domains resources fences; do
		echo "--- $D/$f (at most 50 lines) ---"
		head -n 50 $D/$f
	done
else
	echo "(no $D: this kds.ko has no debugfs files)"
fi
if [ -r $D/graph.dot ]; then
	echo "=== graph.dot begin ==="
	cat $D/graph.dot
	echo "=== graph.dot end ==="
fi

# The hand-off's fence id: from the fences file ("fence ID \"name\" ..."),
# or else from its dma_fence's timeline name, kds-fence-ID.
id=""
if [ -r $D/fences ]; then
	id=$(grep -m1 'handoff' $D/fences |
		awk '{ for (i = 1; i < NF; i++) if ($i == "fence") { print $(i + 1); exit } }')
fi
case "$id" in
'' | *[!0-9]*) id=$(sed -n 's/.*hand-off.*dma_fence kds:kds-fence-\([0-9]*\).*/\1/p' $LOG | tail -n1) ;;
esac
echo
case "$id" in
'' | *[!0-9]*)
	echo "(no id for the hand-off's fence: no blame)" ;;
*)
	echo "echo $id > $D/blame    (the hand-off's fence: what does it wait for?)"
	echo "$id" >$D/blame && news ;;
esac

echo
echo "echo 1 > $GO    (the firmware arrives; engine A's hardware finishes)"
echo 1 >$GO
if ! waitlog 'kds_demo: done' 30; then
	echo "(kds_demo did not say done within 30 s)"
fi
news
echo
echo "rmmod kds_demo"
rmmod kds_demo
news
# What kds still arms (a timer, a dma_fence's signal) holds kds.ko briefly.
n=0
until rmmod kds 2>/dev/null; do
	n=$((n + 1))
	[ "$n" -ge 50 ] && break
	usleep 100000
done
news
echo
if [ "$n" -lt 50 ]; then echo "kds.ko unloaded cleanly"; else echo "kds.ko did not unload"; fi
echo "=== end of demo ==="
