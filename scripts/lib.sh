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
KDS_RUST_LIB_SRC=${KDS_RUST_LIB_SRC:-$(ls -d /usr/src/rustc-*/library 2>/dev/null | sort -V | tail -n1)}

KDS_KMAKE_FLAGS=(ARCH=x86_64 LLVM=$KDS_LLVM_SUFFIX
	RUSTC=$KDS_RUSTC RUSTDOC=$KDS_RUSTDOC HOSTRUSTC=$KDS_RUSTC
	BINDGEN=$KDS_BINDGEN RUST_LIB_SRC=$KDS_RUST_LIB_SRC
	CLIPPY_DRIVER=$KDS_CLIPPY_DRIVER)

KDS_FRAGMENTS=("$KDS_ROOT"/scripts/config/*.config)

kds_log() { printf '[kds] %s\n' "$*" >&2; }
kds_die() { printf '[kds] error: %s\n' "$*" >&2; exit 1; }

# The cache key: what the built kernel depends on, and nothing else.
kds_cache_key() {
	{
		echo "$KDS_KERNEL_PKG $KDS_KERNEL_DEB_VERSION"
		cat "${KDS_FRAGMENTS[@]}"
		echo "${KDS_KMAKE_FLAGS[@]}"
		"$KDS_RUSTC" --version
		"clang$KDS_LLVM_SUFFIX" --version | head -n1
		"$KDS_BINDGEN" --version
	} | sha256sum | cut -c1-16
}

# One build directory, rebuilt in place when the key changes: Kbuild embeds
# the directory's absolute path in every command it records, so a copy
# under another name would rebuild from scratch; in place, a change of
# config fragments rebuilds only what it touches (a new toolchain, all).
# .kds-complete holds the key of the finished build.
kds_kbuild_dir() { echo "$KDS_CACHE/build/linux-7.3"; }
kds_kbuild_current() { [ "$(cat "$(kds_kbuild_dir)/.kds-complete" 2>/dev/null)" = "$(kds_cache_key)" ]; }
