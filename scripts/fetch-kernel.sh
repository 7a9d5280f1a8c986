#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Fetch and extract Debian's linux-source-7.3 into $KDS_KSRC.
#
# Uses a private apt state directory under $KDS_CACHE/apt (its own sources
# list, lists and cache), so the system's apt configuration is never touched.
# The package version is pinned in scripts/lib.sh; when Debian has dropped
# it, this says so and lists what is available: pick one with
#   make KDS_KERNEL_DEB_VERSION=<version> ...
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [ -f "$KDS_KSRC/Makefile" ]; then
	exit 0
fi

A=$KDS_CACHE/apt
mkdir -p "$A/lists/partial" "$A/cache/archives/partial" "$A/etc/sources.list.d" \
	"$A/etc/preferences.d" "$KDS_CACHE/dl"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $KDS_DEBIAN_MIRROR $KDS_KERNEL_SUITE main" \
	>"$A/etc/sources.list"
APT_OPTS=(-o "Dir::Etc::SourceList=$A/etc/sources.list"
	-o "Dir::Etc::SourceParts=$A/etc/sources.list.d"
	-o "Dir::Etc::PreferencesParts=$A/etc/preferences.d"
	-o "Dir::State::Lists=$A/lists" -o "Dir::Cache=$A/cache"
	-o "Dir::State::status=/dev/null" -o "APT::Architecture=amd64"
	-o "Debug::NoLocking=1" -o "APT::Sandbox::User=$(id -un)")

deb="$KDS_CACHE/dl/${KDS_KERNEL_PKG}_${KDS_KERNEL_DEB_VERSION//:/%3a}_all.deb"
if ! [ -f "$deb" ]; then
	kds_log "fetching $KDS_KERNEL_PKG $KDS_KERNEL_DEB_VERSION from $KDS_KERNEL_SUITE"
	apt-get "${APT_OPTS[@]}" -q update >/dev/null ||
		kds_die "apt-get update of the private $KDS_KERNEL_SUITE list failed"
	if ! (cd "$KDS_CACHE/dl" &&
	      apt-get "${APT_OPTS[@]}" -q download "$KDS_KERNEL_PKG=$KDS_KERNEL_DEB_VERSION" >/dev/null); then
		avail=$(apt-cache "${APT_OPTS[@]}" madison "$KDS_KERNEL_PKG" 2>/dev/null |
			awk -F'|' '{gsub(/ /,"",$2); print $2}' | tr '\n' ' ')
		kds_die "$KDS_KERNEL_PKG $KDS_KERNEL_DEB_VERSION is not in $KDS_KERNEL_SUITE any more.
  Available: ${avail:-none}
  Pick one with: make KDS_KERNEL_DEB_VERSION=<version> check"
	fi
fi

kds_log "extracting the kernel source to $KDS_KSRC"
tmp=$(mktemp -d "$KDS_CACHE/src.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
dpkg-deb -x "$deb" "$tmp/deb"
mkdir -p "$tmp/src"
tar -C "$tmp/src" -xf "$tmp"/deb/usr/src/"$KDS_KERNEL_PKG".tar.*
mkdir -p "$(dirname "$KDS_KSRC")"
mv "$tmp/src/$KDS_KERNEL_PKG" "$KDS_KSRC"
