#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Install what kds needs to build and test, when it is missing.
#
# Debian packages through apt-get (as root; otherwise the missing list is
# printed for you to install), and bindgen-cli through `cargo install
# --locked`, pinned, into $KDS_CACHE/tools. Idempotent and quiet when
# everything is there.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PKGS=(rustc-web rust-web-src rust-web-clippy rustfmt-web
      clang-19 lld-19 llvm-19 libclang-19-dev
      qemu-system-x86 busybox-static
      flex bison bc libelf-dev libssl-dev cpio kmod
      make gcc python3 python3-venv python3-matplotlib rsync xz-utils ca-certificates
      shellcheck graphviz)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
if ((${#missing[@]})); then
	if [ "$(id -u)" != 0 ]; then
		kds_die "missing Debian packages; as root run: apt-get install ${missing[*]}"
	fi
	kds_log "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

# lib.sh looked before the install above; look again.
[ -n "$KDS_RUST_LIB_SRC" ] || KDS_RUST_LIB_SRC=$(kds_rust_lib_src)
if [ -z "$KDS_RUST_LIB_SRC" ] || ! [ -d "$KDS_RUST_LIB_SRC/core" ]; then
	kds_die "no Rust library source in /usr/src/rustc-*/library (apt-get install rust-web-src)"
fi

if ! [ -x "$KDS_BINDGEN" ] ||
   [ "$("$KDS_BINDGEN" --version 2>/dev/null)" != "bindgen $KDS_BINDGEN_VERSION" ]; then
	cargo=$(command -v cargo || echo "$HOME/.cargo/bin/cargo")
	[ -x "$cargo" ] || kds_die "cargo is needed to install bindgen-cli (rustup or Debian's cargo)"
	kds_log "installing bindgen-cli $KDS_BINDGEN_VERSION (takes a few minutes)"
	"$cargo" install --locked --quiet --root "$KDS_CACHE/tools" \
		bindgen-cli --version "$KDS_BINDGEN_VERSION"
fi
