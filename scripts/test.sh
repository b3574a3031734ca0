#!/usr/bin/env bash
# The full test suite, as the README and CI run it: setup, build, typecheck, lint, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/prepare.sh
echo "== typecheck"; npm run --silent typecheck
echo "== lint"; npm run --silent lint
echo "== tests"; npx vitest run "$@"
