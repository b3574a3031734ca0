#!/usr/bin/env bash
# `npm run demo`: dnsgate live on a node made of network namespaces (`dnsgate demo`): the examples'
# pods, their DNS transparently redirected to the agent's proxy, the eBPF datapath enforcing, and a
# tour of each example's flows with real clients showing the verdicts and the decision log's reasons.
# Interactive (stdin is a terminal and DEMO_NONINTERACTIVE is not 1): the last node stays up for
# poking by hand until Ctrl-C. Where the live demo cannot run (not root, no BPF, missing tools) it
# says what is missing and falls back to the reference evaluator's tour (`dnsgate explain`).
# DEMO_EXAMPLES="a b" picks the examples of the live tour.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/prepare.sh >/dev/null

missing=()
[ "$(id -u)" -eq 0 ] || missing+=("root (network namespaces, nftables and BPF need it: run as root)")
if [ "$(id -u)" -eq 0 ]; then
  grep -qs ' /sys/fs/bpf bpf ' /proc/mounts || mount -t bpf bpf /sys/fs/bpf 2>/dev/null || missing+=("a bpffs mounted at /sys/fs/bpf")
  [ -f bpf/build/dnsgate.bpf.o ] || missing+=("bpf/build/dnsgate.bpf.o (scripts/build-bpf.sh failed?)")
  ip netns add dnsgate-demo-probe 2>/dev/null && ip netns del dnsgate-demo-probe || missing+=("network namespaces (ip netns add failed)")
fi
for tool in ip nft nsenter curl nc dig getent ping; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("the '$tool' command")
done

explain_tour() {
  local shown=0
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
    return 1
  fi
  echo
  echo "Explained the flows of $shown example(s). Try your own:"
  echo "  node bin/dnsgate.js explain -f <manifests...> --flows <flows.yaml> -o json"
  echo "  node bin/dnsgate.js lint -f <manifests...>"
}

if [ "${#missing[@]}" -gt 0 ]; then
  echo "demo: the live demo (a node made of namespaces with the agent enforcing) cannot run here; missing:" >&2
  for m in "${missing[@]}"; do echo "  - $m" >&2; done
  echo "demo: showing the reference evaluator's verdicts for the examples instead (dnsgate explain)." >&2
  explain_tour
  exit $?
fi

args=()
if [ "${DEMO_NONINTERACTIVE:-0}" = 1 ] || [ ! -t 0 ]; then args+=(--non-interactive); fi
# shellcheck disable=SC2206
[ -n "${DEMO_EXAMPLES:-}" ] && args+=(${DEMO_EXAMPLES})
exec node bin/dnsgate.js demo "${args[@]}"
