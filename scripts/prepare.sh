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

# Reinstall node modules only when a package manifest or the lockfile changed since the last install
# (hashed after installing, since npm may touch the lockfile). `npm install`
# rather than `npm ci`: npm 11 writes lockfiles without other platforms' optional packages (rollup's
# native builds) and then refuses them in `npm ci`; `npm install` still honours the locked versions.
stamp=node_modules/.dnsgate-install-stamp
manifests_hash() { cat package.json packages/*/package.json package-lock.json | sha256sum | cut -d' ' -f1; }
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$(manifests_hash)" ]; then
  npm install --no-audit --no-fund
  manifests_hash > "$stamp"
fi

# Optional build steps of later parts: each script exists once its part lands.
for step in scripts/build-native.sh scripts/build-bpf.sh; do
  if [ -f "$step" ]; then bash "$step"; fi
done

npm run --silent build
