#!/bin/sh
# Install, non-interactively, the Debian packages that building, running and
# testing postie need, and only those that are missing. Works as root and
# through sudo; prints nothing when everything is already there.
set -eu

PACKAGES="
	build-essential pkg-config meson ninja-build
	libevent-dev libssl-dev libc-ares-dev libsqlite3-dev libcrypt-dev
	libpq-dev libmariadb-dev postgresql mariadb-server
	libcmocka-dev
	clang libclang-rt-14-dev
	openssl sqlite3 python3 python3-pytest
	swaks curl dnsmasq-base
	postfix
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
# postfix is only a test peer (tests/integration/postfix_peer.py runs
# private instances): "No configuration" writes no /etc/postfix/main.cf,
# and a policy-rc.d denies every service start during the install, so
# nothing comes to listen on port 25. The same for the database servers
# (tests/integration/sql_servers.py runs private instances).
policy_added=""
case " $missing " in
*" postfix "*|*" postgresql "*|*" mariadb-server "*)
	echo "postfix postfix/main_mailer_type select No configuration" |
	    $SUDO debconf-set-selections
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
		$SUDO chmod 755 /usr/sbin/policy-rc.d
		policy_added=1
	fi
	;;
esac
$SUDO apt-get update -qq >&2
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >&2
[ -z "$policy_added" ] || $SUDO rm -f /usr/sbin/policy-rc.d
