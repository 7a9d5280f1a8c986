#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Set-up never fails silently: `make run` on a simulated fresh machine.
#
# In a private mount namespace (unshare -m), /usr/src (where rust-web-src
# puts the Rust library source) and the kds cache are hidden behind empty
# tmpfs mounts, and dpkg-query and apt-get are stubs: every package looks
# missing, and "installing" one installs nothing. Then:
#   - as root, `make run` must reach the install step (apt-get install with
#     kds's package list), and then stop with one "[kds] error: ..." line
#     and a non-zero exit, since the stub installed nothing;
#   - as a user (nobody), it must print the one `apt-get install ...` line
#     to run as root, never call apt-get, and exit non-zero.
# Prints one TAP-like line per check ("ok NAME" or "not ok NAME: why");
# exits non-zero if any failed. Needs root (for the namespace).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || { echo "not ok set-up test: needs root for unshare -m"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
mkdir -p "$tmp/stub" "$tmp/home"
chown 65534:65534 "$tmp/home"
cat >"$tmp/stub/dpkg-query" <<'STUB'
#!/bin/sh
exit 1
STUB
cat >"$tmp/stub/apt-get" <<STUB
#!/bin/sh
echo "apt-get \$*" >>"$tmp/apt.log"
exit 0
STUB
chmod 755 "$tmp/stub/dpkg-query" "$tmp/stub/apt-get"
touch "$tmp/apt.log"
chmod 666 "$tmp/apt.log"

# $1: root or user. Runs `make run` in the namespace; output to $tmp/$1.out.
fresh_make_run() {
	local who=$1 drop=()
	[ "$who" = user ] && drop=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	: >"$tmp/apt.log"
	# shellcheck disable=SC2016 # expanded by the inner shell
	unshare -m -- bash -c '
		set -e
		mount --make-rprivate /
		mount -t tmpfs -o mode=755 none /usr/src
		mkdir -p "$1" && mount -t tmpfs -o mode=777 none "$1"
		shift
		exec "$@"' _ "$KDS_CACHE" \
		"${drop[@]}" env -u KDS_CACHE -u KDS_RUST_LIB_SRC -u KDIR HOME="$tmp/home" \
		PATH="$tmp/stub:/usr/sbin:/usr/bin:/sbin:/bin" \
		make -C "$KDS_ROOT" --no-print-directory run \
		>"$tmp/$who.out" 2>&1 </dev/null
	echo $? >"$tmp/$who.rc"
}

# The checks below test exit statuses one by one.
set +e
fail=0
check() { # NAME CONDITION-STATUS DETAIL
	if [ "$2" = 0 ]; then echo "ok $1"; else echo "not ok $1: $3"; fail=1; fi
}

fresh_make_run root
rc=$(cat "$tmp/root.rc")
grep -q '^apt-get install .*rustc-web.*rust-web-src' "$tmp/apt.log"
check "set-up as root reaches apt-get install" $? "apt-get calls: $(tr '\n' ';' <"$tmp/apt.log")"
[ "$rc" != 0 ] && grep -q '^\[kds\] error: .*(.*)' "$tmp/root.out"
check "set-up as root fails loudly when the install did not help" $? \
	"exit $rc; output: $(tail -n3 "$tmp/root.out" | tr '\n' ' ')"

fresh_make_run user
rc=$(cat "$tmp/user.rc")
n=$(grep -c 'apt-get install .*rustc-web' "$tmp/user.out" || true)
[ "$rc" != 0 ] && [ "$n" = 1 ] && ! [ -s "$tmp/apt.log" ]
check "set-up as a user prints the one apt-get install line" $? \
	"exit $rc, $n install lines, apt-get calls: $(tr '\n' ';' <"$tmp/apt.log"); output: $(tail -n3 "$tmp/user.out" | tr '\n' ' ')"
exit $fail
