#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Everything the module build needs, each step idempotent and cached:
# packages and bindgen, the kernel source, the dev kernel of $KDS_FLAVOUR.
# With KDIR set (your own kernel build), only the packages are checked.
set -euo pipefail
here=$(dirname "$0")
"$here/setup.sh"
if [ -z "${KDIR:-}" ]; then
	"$here/fetch-kernel.sh"
	"$here/build-kernel.sh"
fi
