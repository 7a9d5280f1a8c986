# SPDX-License-Identifier: GPL-2.0
#
# kds - user-facing targets. Kbuild itself reads ./Kbuild and kunit/Kbuild.
#
#   make            build kds.ko, kds_test.ko and the sample against the
#                   dev kernel of KDS_FLAVOUR (debug; or prod, rt), setting
#                   everything up first
#   make check      host checks (set-up test, rustfmt, checkpatch,
#                   shellcheck), then for each of KDS_FLAVOURS (debug,prod,rt):
#                   build with clippy, build README's driver, boot the guest
#                   and run every KUnit suite; then a virtme-ng smoke boot.
#                   KUNIT_FILTER='kds_fence*' picks suites or cases.
#   make run        boot the dev kernel, load kds.ko and run the demo
#   make shell      boot the debug kernel with virtme-ng on the host's files
#   make shell-busybox  the test guest's busybox initramfs, interactively
#   make driver M=/path/to/driver   build your module against kds
#   make torture DURATION=600 [SEED=n]   run kds_torture that long (debug)
#   make bench      kds against dma_fence, ww_mutex, async and completion on
#                   the prod kernel: table, build/bench/results.csv and
#                   ratios.svg (BENCH_ARGS="reps=11" for more repetitions)
#   make lint       rustfmt --check, clippy, checkpatch, kernel-doc, shellcheck
#   make rustfmt-fix  reformat the Rust sources
#   make clean      remove build/ (the module builds)
#   make distclean  also remove the cache: kernel source, dev kernels, tools
#
# KDIR=/path/to/kernel/build builds against your own kernel instead of the
# cached dev kernel. See README.md.

SHELL := /bin/bash
export KDIR KUNIT_FILTER KDS_CACHE KDS_KERNEL_DEB_VERSION KDS_FLAVOUR KDS_FLAVOURS \
	DURATION SEED THREADS FAILSLAB BENCH_ARGS

.PHONY: all modules check run shell shell-busybox driver torture bench lint rustfmt \
	rustfmt-fix clippy checkpatch shellcheck clean distclean

all: modules

modules:
	@scripts/prepare.sh
	@scripts/build-modules.sh

check:
	@scripts/check.sh

run: modules
	@qemu-test/run.sh demo

shell: modules
	@scripts/vng.sh shell

shell-busybox: modules
	@qemu-test/run.sh shell

driver: modules
	@scripts/build-driver.sh "$(M)"

torture: modules
	@qemu-test/run.sh torture

# Benchmarks belong on a kernel without debugging: prod unless told otherwise.
bench: export KDS_FLAVOUR := $(or $(KDS_FLAVOUR),prod)
bench:
	@scripts/prepare.sh
	@scripts/build-modules.sh
	@qemu-test/run.sh bench

lint: rustfmt clippy checkpatch shellcheck

rustfmt:
	@scripts/prepare.sh
	@scripts/lint.sh rustfmt

rustfmt-fix:
	@scripts/lint.sh rustfmt-fix

clippy:
	@scripts/prepare.sh
	@scripts/lint.sh clippy

checkpatch:
	@scripts/prepare.sh
	@scripts/lint.sh checkpatch

shellcheck:
	@scripts/setup.sh
	@scripts/lint.sh shellcheck

clean:
	rm -rf build

distclean: clean
	@. scripts/lib.sh && echo "rm -rf $$KDS_CACHE" && rm -rf "$$KDS_CACHE"
