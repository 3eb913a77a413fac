#!/usr/bin/env bash
# Runs the Neovim plugin's tests in headless Neovim against the daemon and
# the fake OpenAI-compatible provider built from this repository.
#   editors/nvim/test.sh            (from anywhere; needs go and nvim >= 0.7)
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tinychat-nvim-test.XXXXXX")
fp=""
cleanup() {
  exec 3>&- 2>/dev/null
  if [ -n "$fp" ]; then
    kill "$fp" 2>/dev/null
    wait "$fp" 2>/dev/null
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

command -v nvim >/dev/null || { echo "nvim not found (apt-get install -y neovim)"; exit 1; }
(cd "$root" && CGO_ENABLED=0 go build -o "$tmp/tinychat" . && go build -o "$tmp/fakeprovider" ./providers/providertest/fakeprovider) || {
  echo "go build failed"
  exit 1
}

# The fake provider serves until its stdin closes: hold a fifo open on fd 3.
mkfifo "$tmp/fp.in"
"$tmp/fakeprovider" -pace 20ms <"$tmp/fp.in" >"$tmp/fp.out" 2>"$tmp/fp.err" &
fp=$!
exec 3>"$tmp/fp.in"
url=""
for _ in $(seq 100); do
  url=$(head -n 1 "$tmp/fp.out" 2>/dev/null)
  [ -n "$url" ] && break
  sleep 0.05
done
[ -n "$url" ] || { echo "the fake provider did not start"; cat "$tmp/fp.err"; exit 1; }

mkdir -p "$tmp/workspace" "$tmp/config" "$tmp/data"
unset ANTHROPIC_API_KEY MISTRAL_API_KEY GEMINI_API_KEY ANTHROPIC_BASE_URL MISTRAL_BASE_URL TINYCHAT_CONFIG TINYCHAT_LOG_LEVEL
export XDG_CONFIG_HOME="$tmp/config" XDG_DATA_HOME="$tmp/data"
export TINYCHAT_DB="$tmp/tinychat.db" TINYCHAT_ECHO_DELAY=20ms
export OPENAI_BASE_URL="$url/v1" OPENAI_API_KEY=test-key
export TINYCHAT_TEST_DAEMON="$tmp/tinychat" TINYCHAT_TEST_DIR="$tmp/workspace"

timeout 120 nvim --headless -u NONE -i NONE -n --cmd "set rtp^=$here" \
  -c "luafile $here/tests/run.lua" -c 'cquit 3' </dev/null
rc=$?
case $rc in
0) ;;
1) echo "the Neovim plugin's tests failed: see the \"not ok\" lines above" ;;
124) echo "the test run hung and was killed after 120 s" ;;
*) echo "nvim exited with status $rc" ;;
esac
[ $rc -eq 0 ] || exit 1
