#!/usr/bin/env bash
# Installs the MCP reference servers that the tests of package tools run,
# @modelcontextprotocol/server-everything and server-filesystem at the
# versions of mcp-servers/package-lock.json, and prints the node_modules
# folder that holds them, for TINYCHAT_MCP_NODE_MODULES:
#
#   TINYCHAT_MCP_NODE_MODULES=$(bash tools/testdata/install-mcp-servers.sh)
#
# They go to a cache folder named by the lock file's checksum, so a second
# run installs nothing. Needs node and npm.
set -euo pipefail
here=$(cd "$(dirname "$0")/mcp-servers" && pwd)
sum=$(cksum <"$here/package-lock.json" | cut -d' ' -f1)
dir="${XDG_CACHE_HOME:-$HOME/.cache}/tinychat/mcp-servers-$sum"
if [ ! -e "$dir/.installed" ]; then
  rm -rf "$dir"
  mkdir -p "$dir"
  cp "$here/package.json" "$here/package-lock.json" "$dir/"
  # npm's own output goes to stderr: stdout is the folder alone.
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) >&2
  touch "$dir/.installed"
fi
echo "$dir/node_modules"
