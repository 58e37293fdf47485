#!/bin/sh
# Install, non-interactively, the Debian packages that building, running and
# testing postie need, and only those that are missing. Works as root and
# through sudo; prints nothing when everything is already there.
set -eu

PACKAGES="
	build-essential pkg-config meson ninja-build
	libevent-dev libssl-dev libc-ares-dev libsqlite3-dev libcrypt-dev
	libcmocka-dev
	clang libclang-rt-14-dev
	openssl sqlite3 python3 python3-pytest
	swaks curl dnsmasq-base
"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "deps: installing$missing" >&2
if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "deps: need root or sudo to install:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >&2
