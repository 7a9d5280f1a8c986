# SPDX-License-Identifier: GPL-2.0
#
# kds - user-facing targets. Kbuild itself reads ./Kbuild and kunit/Kbuild.
#
#   make            build kds.ko and kds_test.ko (sets up everything first)
#   make check      build (with clippy), rustfmt and checkpatch, then boot the
#                   dev kernel in QEMU and run every KUnit suite
#                   (KUNIT_FILTER='kds_fence*' to pick suites or cases)
#   make run        boot the dev kernel, load kds.ko and run the demo
#   make shell      the same guest with an interactive shell
#   make lint       rustfmt --check, clippy, checkpatch, kernel-doc
#   make rustfmt-fix  reformat the Rust sources
#   make clean      remove build/ (the module build)
#   make distclean  also remove the cache: kernel source, dev kernel, tools
#
# KDIR=/path/to/kernel/build builds against your own kernel instead of the
# cached dev kernel. See README.md.

SHELL := /bin/bash
export KDIR KUNIT_FILTER KDS_CACHE KDS_KERNEL_DEB_VERSION

.PHONY: all modules check run shell lint rustfmt rustfmt-fix clippy checkpatch clean distclean

all: modules

modules:
	@scripts/prepare.sh
	@scripts/build-modules.sh

check: modules rustfmt checkpatch
	@qemu-test/run.sh check

run: modules
	@qemu-test/run.sh demo

shell: modules
	@qemu-test/run.sh shell

lint: rustfmt clippy checkpatch

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

clean:
	rm -rf build

distclean: clean
	@. scripts/lib.sh && echo "rm -rf $$KDS_CACHE" && rm -rf "$$KDS_CACHE"
