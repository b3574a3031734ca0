#!/usr/bin/env bash
# Builds bpf/*.bpf.c into bpf/build/*.o (clang -target bpf, with BTF). An object is rebuilt only
# when it is older than its source, any bpf/*.h or this script; compiler output is shown as is
# and the first failure stops the build. Extra clang flags: BPF_CFLAGS (e.g. -DDG_PIN=0).
set -euo pipefail
cd "$(dirname "$0")/.."

CLANG=${CLANG:-clang}
out=${BPF_OUT:-bpf/build}
arch_inc=/usr/include/$(uname -m)-linux-gnu
case "$(uname -m)" in
  x86_64) target_arch=x86 ;;
  aarch64) target_arch=arm64 ;;
  *) target_arch=$(uname -m) ;;
esac
mkdir -p "$out"

shopt -s nullglob
headers=(bpf/*.h)
for src in bpf/*.bpf.c; do
  obj="$out/$(basename "${src%.c}").o"
  stale=0
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ "$0" -nt "$obj" ]; then stale=1; fi
  for h in "${headers[@]}"; do [ "$h" -nt "$obj" ] && stale=1; done
  [ "$stale" -eq 0 ] && continue
  echo "build-bpf: $src -> $obj"
  # shellcheck disable=SC2086
  if ! "$CLANG" -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_$target_arch -I bpf -I "$arch_inc" \
      ${BPF_CFLAGS:-} -c "$src" -o "$obj.tmp.$$"; then
    rm -f "$obj.tmp.$$"
    echo "build-bpf: FAILED to compile $src (compiler output above)" >&2
    exit 1
  fi
  # Rename is atomic, so concurrent builds (parallel test files) never see half an object.
  mv "$obj.tmp.$$" "$obj"
done
