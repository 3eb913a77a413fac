#!/usr/bin/env bash
# Runs tinychat acp under real ACP clients: the official TypeScript SDK
# (@agentclientprotocol/sdk, its client connection) and acpx, both at the
# versions of package-lock.json, against the binary built from this
# repository, its echo provider and the fake OpenAI-compatible provider.
#   acp/test/test.sh            (from anywhere; needs go, node 20+ and npm)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tinychat-acp-test.XXXXXX")
fp=""
cleanup() {
  exec 3>&- 2>/dev/null || true
  if [ -n "$fp" ]; then
    kill "$fp" 2>/dev/null || true
    wait "$fp" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== npm ci"
(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)

echo "== go build (tinychat and the fake provider)"
(cd "$root" && CGO_ENABLED=0 go build -o "$tmp/tinychat" . && go build -o "$tmp/fakeprovider" ./providers/providertest/fakeprovider)

# The fake provider serves until its stdin closes: hold a fifo open on fd 3.
mkfifo "$tmp/fp.in"
"$tmp/fakeprovider" -pace 20ms <"$tmp/fp.in" >"$tmp/fp.out" 2>"$tmp/fp.err" &
fp=$!
exec 3>"$tmp/fp.in"
url=""
for _ in $(seq 100); do
  url=$(head -n 1 "$tmp/fp.out" 2>/dev/null || true)
  [ -n "$url" ] && break
  sleep 0.05
done
[ -n "$url" ] || { echo "the fake provider did not start"; cat "$tmp/fp.err"; exit 1; }

# Nothing of the machine's own configuration or keys: each test sets the
# environment of the agent it starts.
unset ANTHROPIC_API_KEY OPENAI_API_KEY MISTRAL_API_KEY GEMINI_API_KEY \
  ANTHROPIC_BASE_URL OPENAI_BASE_URL MISTRAL_BASE_URL GEMINI_BASE_URL TINYCHAT_CONFIG TINYCHAT_DB TINYCHAT_LOG_LEVEL
export TINYCHAT_BIN="$tmp/tinychat" FAKE_URL="$url" ACP_TEST_TMP="$tmp"

echo "== node tests (TypeScript SDK, acpx)"
cd "$here"
timeout 300 node --test --test-concurrency=1 --test-reporter=spec sdk.test.mjs acpx.test.mjs
