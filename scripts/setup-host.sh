#!/usr/bin/env bash
# Idempotent host setup: installs from Debian what dnsgate builds and tests with, only when missing.
# Safe to run repeatedly; does nothing (and needs no network) when everything is present.
set -euo pipefail

# package -> a file it provides; the file is how we tell it is already installed.
declare -A NEED=(
  [clang]=/usr/bin/clang
  [llvm]=/usr/bin/llvm-strip
  [libbpf-dev]=/usr/include/bpf/libbpf.h
  [libelf-dev]=/usr/include/libelf.h
  [zlib1g-dev]=/usr/include/zlib.h
  [bpftool]=/usr/sbin/bpftool
  [iproute2]=/usr/sbin/ip
  [nftables]=/usr/sbin/nft
  [dnsutils]=/usr/bin/dig
  [dnsperf]=/usr/bin/dnsperf
  [dnsmasq-base]=/usr/sbin/dnsmasq
  [curl]=/usr/bin/curl
  [iputils-ping]=/usr/bin/ping
  [netcat-openbsd]=/bin/nc.openbsd
  [make]=/usr/bin/make
  [g++]=/usr/bin/g++
  [python3]=/usr/bin/python3
)

missing=()
for pkg in "${!NEED[@]}"; do
  [ -e "${NEED[$pkg]}" ] || missing+=("$pkg")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-host: all host packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "setup-host: missing Debian packages: ${missing[*]}" >&2
  echo "setup-host: run as root (or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi

echo "setup-host: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup-host: done"
