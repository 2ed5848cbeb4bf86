#!/usr/bin/env bash
# Quick start: install what tsbuild needs on a fresh Debian 12 machine, build it, and run it on
# the example in fixtures/hello.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
if ! command -v node >/dev/null 2>&1; then
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq nodejs npm >/dev/null
fi
npm ci --no-audit --no-fund
echo "== tsbuild parse --dump fixtures/hello/Dockerfile"
npx tsbuild parse --dump fixtures/hello/Dockerfile
