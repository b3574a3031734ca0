#!/usr/bin/env bash
# Builds packages/libbpf-ts: the N-API addon (node-gyp against the system libbpf), the compiled
# TypeScript wrapper (dist/, what `import 'libbpf-ts'` resolves to) and the test BPF objects.
# Idempotent: each step runs only when its inputs are newer than its output.
set -euo pipefail
cd "$(dirname "$0")/.."
pkg=packages/libbpf-ts
gyp=node_modules/.bin/node-gyp

# newer OUT IN...: true when OUT is missing or any IN is newer than it.
newer() {
  local out=$1; shift
  [ -e "$out" ] || return 0
  [ -n "$(find "$@" -newer "$out" -print -quit 2>/dev/null)" ]
}

# bpffs, where maps and programs are pinned (tests and the agent need it).
if [ "$(id -u)" -eq 0 ] && ! mountpoint -q /sys/fs/bpf; then
  mount -t bpf bpf /sys/fs/bpf
fi

addon=$pkg/build/Release/bpf_ts.node
if newer "$addon" $pkg/binding.gyp $pkg/native; then
  echo "build-native: compiling the libbpf-ts addon"
  # Node's own headers ship with the Debian/NodeSource package; no download needed.
  nodedir=$(dirname "$(dirname "$(command -v node)")")
  gypargs=(--directory "$pkg" -j 2)
  [ -f "$nodedir/include/node/node_api.h" ] && gypargs+=(--nodedir "$nodedir")
  action=rebuild
  if [ -f $pkg/build/Makefile ] && ! newer $pkg/build/Makefile $pkg/binding.gyp; then action=build; fi
  log=$(mktemp)
  if ! "$gyp" "$action" "${gypargs[@]}" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    exit 1
  fi
  rm -f "$log"
  touch "$addon"
fi

if newer $pkg/dist/index.js $pkg/src $pkg/tsconfig.json; then
  echo "build-native: compiling the libbpf-ts wrapper"
  rm -rf $pkg/dist
  node_modules/.bin/tsc -p $pkg/tsconfig.json
fi

mkdir -p $pkg/build/fixtures
for src in $pkg/test/fixtures/*.bpf.c; do
  obj=$pkg/build/fixtures/$(basename "${src%.c}").o
  if newer "$obj" "$src"; then
    echo "build-native: clang $src"
    clang -O2 -g -Wall -target bpf -D__TARGET_ARCH_x86 -I/usr/include/"$(uname -m)"-linux-gnu \
      -c "$src" -o "$obj"
  fi
done
