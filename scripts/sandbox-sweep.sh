#!/usr/bin/env bash
# Removes what a crashed sandbox harness left behind (network namespaces, root-namespace links,
# /etc/netns entries, processes inside them), by name prefix. Default prefix "dgs" matches every
# harness: run it without an argument only when no harness is running.
# usage: scripts/sandbox-sweep.sh [PREFIX]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "sandbox-sweep: needs root (it deletes network namespaces)" >&2
  exit 1
fi
exec node --import tsx -e '
import { sweep } from "./src/sandbox/sweep.ts";
const report = sweep(process.argv[1] || undefined);
console.log(JSON.stringify(report, null, 2));
' "${1:-}"
