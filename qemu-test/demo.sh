#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The kds demo, run in the guest by `make run`. It grows with every
# primitive kds gains.
M=/lib/modules/kds

echo
echo "=== kds demo ==="
insmod $M/kds.ko || { echo "kds.ko failed to load"; exit 1; }
echo "kds.ko loaded: $(dmesg | sed -n 's/.*kds: version \([0-9.]*\) loaded/kds \1 loaded/p' | tail -n1)"
echo
echo "The C API it exports to drivers (EXPORT_SYMBOL_GPL):"
grep -E ' __ksymtab_kds_[a-z0-9_]+\s+\[kds\]' /proc/kallsyms | sed 's/.*__ksymtab_\([a-z0-9_]*\).*/  \1/' | sort -u
echo
echo "A sample driver (samples/kds_demo.c) probes a device in phases, each a"
echo "kds fence: clocks await power, display and audio await clocks, display"
echo "also awaits a firmware completion and a 30 ms panel delay (hrtimer),"
echo "ready awaits display and audio. Clocks is exported as a dma_fence; ready"
echo "is refused: through display it waits for a completion, which may never come."
insmod $M/kds_demo.ko
dmesg | sed -n 's/.*kds_demo: //p'
rmmod kds_demo
echo
if rmmod kds; then echo "kds.ko unloaded cleanly"; else echo "kds.ko did not unload"; fi
echo "=== end of demo ==="
