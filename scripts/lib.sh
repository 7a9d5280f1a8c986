# SPDX-License-Identifier: GPL-2.0
# Shared settings for kds's build scripts. Source it; do not run it.
#
# Everything that is not the repository lives under $KDS_CACHE
# (default ~/.cache/kds): the tools kds installs itself, the Debian kernel
# package, the extracted source and one build directory per cache key.

KDS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KDS_CACHE=${KDS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kds}

# The kernel: Debian's linux-source-7.3 from trixie-backports. To try another
# 7.3.y, set KDS_KERNEL_DEB_VERSION (scripts/fetch-kernel.sh lists them).
KDS_KERNEL_PKG=linux-source-7.3
KDS_KERNEL_DEB_VERSION=${KDS_KERNEL_DEB_VERSION:-7.3.4-1~bpo13+1}
KDS_KERNEL_SUITE=${KDS_KERNEL_SUITE:-trixie-backports}
KDS_DEBIAN_MIRROR=${KDS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
KDS_KSRC=$KDS_CACHE/src/$KDS_KERNEL_PKG-$KDS_KERNEL_DEB_VERSION

# The toolchain: identical for the kernel and for the modules.
KDS_BINDGEN_VERSION=0.73.2
KDS_LLVM_SUFFIX=-19
export LIBCLANG_PATH=${LIBCLANG_PATH:-/usr/lib/llvm$KDS_LLVM_SUFFIX/lib}
KDS_RUSTC=${KDS_RUSTC:-/usr/bin/rustc}
KDS_RUSTDOC=${KDS_RUSTDOC:-/usr/bin/rustdoc}
KDS_CLIPPY_DRIVER=${KDS_CLIPPY_DRIVER:-/usr/bin/clippy-driver}
KDS_RUSTFMT=${KDS_RUSTFMT:-/usr/bin/rustfmt}
KDS_BINDGEN=${KDS_BINDGEN:-$KDS_CACHE/tools/bin/bindgen}
# Found lazily: on a fresh machine rust-web-src is not installed yet when
# this file is sourced, and setup.sh must still get to install it.
kds_rust_lib_src() {
	local d
	for d in /usr/src/rustc-*/library; do
		if [ -d "$d/core" ]; then echo "$d"; fi
	done | sort -V | tail -n1
}
KDS_RUST_LIB_SRC=${KDS_RUST_LIB_SRC:-$(kds_rust_lib_src)}

KDS_KMAKE_FLAGS=(ARCH=x86_64 LLVM=$KDS_LLVM_SUFFIX
	RUSTC=$KDS_RUSTC RUSTDOC=$KDS_RUSTDOC HOSTRUSTC=$KDS_RUSTC
	BINDGEN=$KDS_BINDGEN RUST_LIB_SRC=$KDS_RUST_LIB_SRC
	CLIPPY_DRIVER=$KDS_CLIPPY_DRIVER)

# Kernel flavours: one source, one cache, one build directory each.
#   debug  lockdep, KASAN, kmemleak, failslab, Rust debug assertions, and
#          what virtme-ng needs (make shell); the default
#   prod   what distributions ship: none of the debugging above (and
#          virtio and 9p, for virtme-ng)
#   rt     PREEMPT_RT with lockdep
KDS_ALL_FLAVOURS=(debug prod rt)
KDS_FLAVOUR=${KDS_FLAVOUR:-debug}
kds_fragments() {
	local c=$KDS_ROOT/scripts/config
	case "${1:-$KDS_FLAVOUR}" in
	debug) echo "$c/base.config $c/kunit.config $c/debug.config $c/vng.config" ;;
	prod) echo "$c/base.config $c/kunit.config $c/prod.config $c/vng.config" ;;
	rt) echo "$c/base.config $c/kunit.config $c/rt.config" ;;
	*) kds_die "unknown kernel flavour '$1' (one of: ${KDS_ALL_FLAVOURS[*]})" ;;
	esac
}

kds_log() { printf '[kds] %s\n' "$*" >&2; }
# Every failure ends in one line: what failed, then what to do about it.
kds_die() { printf '[kds] error: %s\n' "$*" >&2; exit 1; }

# The cache key of a flavour: what its built kernel depends on, and
# nothing else.
kds_cache_key() {
	local f=${1:-$KDS_FLAVOUR}
	{
		echo "$KDS_KERNEL_PKG $KDS_KERNEL_DEB_VERSION $f"
		# shellcheck disable=SC2046 # a list of paths without spaces
		cat $(kds_fragments "$f")
		echo "${KDS_KMAKE_FLAGS[@]}"
		"$KDS_RUSTC" --version
		"clang$KDS_LLVM_SUFFIX" --version | head -n1
		"$KDS_BINDGEN" --version
	} | sha256sum | cut -c1-16
}

# One build directory per flavour, rebuilt in place when its key changes:
# Kbuild embeds the directory's absolute path in every command it records,
# so a copy under another name would rebuild from scratch; in place, a
# change of config fragments rebuilds only what it touches (a new
# toolchain, all). Building one flavour never touches another's directory.
# .kds-complete holds the key of the finished build.
kds_kbuild_dir() { echo "$KDS_CACHE/build/linux-7.3-${1:-$KDS_FLAVOUR}"; }
kds_kbuild_current() {
	[ "$(cat "$(kds_kbuild_dir "${1:-}")/.kds-complete" 2>/dev/null)" = "$(kds_cache_key "${1:-}")" ]
}

# Where a flavour's modules and guest files go: build/<flavour>/, or
# build/kdir/ when KDIR names your own kernel build.
kds_out_dir() {
	if [ -n "${KDIR:-}" ]; then echo "$KDS_ROOT/build/kdir"; else echo "$KDS_ROOT/build/${1:-$KDS_FLAVOUR}"; fi
}
