#!/usr/bin/env bash
# Builds the React app into web/dist (served by the gateway at /).
#   npm ci       when node_modules is missing or package-lock.json changed since the last install
#   npm run build only when a source file is newer than web/dist
# `--deps-only` stops after the install step (used by scripts/web-test.sh).
set -euo pipefail
cd "$(dirname "$0")/../web"

command -v npm >/dev/null || { echo "build-web: npm (Node 20.19+) is required" >&2; exit 1; }

lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.wingman-lock.sha256
if [ ! -d node_modules ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_sum" ]; then
  echo "build-web: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_sum" > "$stamp"
fi

[ "${1:-}" = "--deps-only" ] && exit 0

inputs=(src public scripts index.html package.json package-lock.json vite.config.ts tsconfig.json)
if [ -f dist/index.html ] && [ -z "$(find "${inputs[@]}" -newer dist/index.html -print -quit)" ]; then
  echo "build-web: web/dist is up to date"
  exit 0
fi
echo "build-web: npm run build"
npm run build --silent
# vite may keep index.html's old mtime when its content is unchanged; mark the build time
touch dist/index.html
