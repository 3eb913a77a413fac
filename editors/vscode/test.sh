#!/usr/bin/env bash
# Every test of the VS Code extension, in order: npm ci, the type check, the
# bundle, the .vsix, the node tests (the client against the daemon built from
# this repo and its fake provider), then the end-to-end run in VS Code
# (test/e2e.sh). Exits non-zero on the first failure.
#
# Needs Go, node 20+ with npm, and the apt packages chromium and libkrb5-dev
# (for the e2e; CI installs them).
set -euo pipefail
cd "$(dirname "$0")"
ext=$PWD
repo=$(cd ../.. && pwd)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

timings=()
now() { date +%s.%N; }
step_start=
step() {
	step_end
	step_name=$1
	step_start=$(now)
	echo "== $1"
}
step_end() {
	if [ -n "$step_start" ]; then
		timings+=("$(awk -v a="$step_start" -v b="$(now)" -v n="$step_name" 'BEGIN { printf "%7.1fs  %s", b - a, n }')")
	fi
	step_start=
}

step "npm ci"
npm ci --no-audit --no-fund --loglevel=error

step "tsc --noEmit (extension and tests; webview)"
npx tsc --noEmit
npx tsc --noEmit -p media

step "bundle (esbuild)"
node build.mjs --minify

step "vsce package"
rm -f "$ext"/*.vsix
npx @vscode/vsce package --no-dependencies --skip-license --out "$ext/tinychat.vsix"

step "go build (daemon and fake provider)"
(cd "$repo" && CGO_ENABLED=0 go build -o "$tmp/bin/tinychat" . && go build -o "$tmp/bin/fakeprovider" ./providers/providertest/fakeprovider)
export TINYCHAT_BIN=$tmp/bin/tinychat FAKEPROVIDER_BIN=$tmp/bin/fakeprovider

step "node tests"
node build.mjs --tests "$tmp/tests"
node --test --test-reporter=spec "$tmp"/tests/*.test.js | tee "$tmp/node-tests.log"

step "e2e setup: node 24 and code-server into .cache/ (once)"
bash test/e2e.sh --setup-only

step "e2e in VS Code (code-server)"
bash test/e2e.sh "$ext/tinychat.vsix" | tee "$tmp/e2e.log"
step_end

echo "== timings"
printf '%s\n' "${timings[@]}"
count() { sed -n "s/^ℹ $1 \([0-9]*\)$/\1/p" "$2"; }
passed=$(($(count pass "$tmp/node-tests.log") + $(count pass "$tmp/e2e.log")))
failed=$(($(count fail "$tmp/node-tests.log") + $(count fail "$tmp/e2e.log")))
echo "vscode: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
