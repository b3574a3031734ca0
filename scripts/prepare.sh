#!/usr/bin/env bash
# Everything `npm test` and `npm run demo` need before they run, on a fresh Debian machine as root:
# host packages, node modules, the native binding, the eBPF objects and the compiled TypeScript.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -eq 0 ]; then
  bash scripts/setup-host.sh
else
  bash scripts/setup-host.sh || echo "prepare: continuing without root; tests that need root will say so" >&2
fi

# Reinstall node modules only when the lockfile changed since the last install.
stamp=node_modules/.dnsgate-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  npm ci --no-audit --no-fund
  cp package-lock.json "$stamp"
fi

# Optional build steps of later parts: each script exists once its part lands.
for step in scripts/build-native.sh scripts/build-bpf.sh; do
  if [ -f "$step" ]; then bash "$step"; fi
done

npm run --silent build
