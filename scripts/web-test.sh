#!/usr/bin/env bash
# Runs the web app's type check and its Vitest suite once, non-interactively.
set -euo pipefail
here="$(dirname "$0")"
bash "$here/build-web.sh" --deps-only
cd "$here/../web"
export CI=true
[ -t 1 ] || export NO_COLOR=1
npm run typecheck --silent
npx vitest run --reporter=default
