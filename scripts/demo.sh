#!/usr/bin/env bash
# `npm run demo`: for now, dnsgate's reference evaluator explaining every example policy's flows.
# The live node demo (namespaces, agent, real traffic) replaces this once the agent lands.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/prepare.sh >/dev/null

shown=0
for dir in examples/*/; do
  [ -f "$dir/flows.yaml" ] || continue
  manifests=()
  for f in "$dir"*.yaml "$dir"*.yml "$dir"*.json; do
    [ -f "$f" ] || continue
    case "$(basename "$f")" in flows.*|expected.*) continue ;; esac
    manifests+=("$f")
  done
  echo
  echo "=== ${dir%/}"
  [ -f "$dir/README.md" ] && sed -n '1,3p' "$dir/README.md"
  node bin/dnsgate.js explain -f "${manifests[@]}" --flows "$dir/flows.yaml" -o table
  shown=$((shown + 1))
done

if [ "$shown" -eq 0 ]; then
  echo "demo: no examples with flows.yaml found under examples/" >&2
  exit 1
fi
echo
echo "Explained the flows of $shown example(s). Try your own:"
echo "  node bin/dnsgate.js explain -f <manifests...> --flows <flows.yaml> -o json"
echo "  node bin/dnsgate.js lint -f <manifests...>"
