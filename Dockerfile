# syntax=docker/dockerfile:1
# The dnsgate image (the agent of manifests/deploy/daemonset.yaml, and every other subcommand).
#
# CI does not build this image: the project's machines have no Docker engine. The build steps are
# the ones scripts/prepare.sh runs (and CI tests) on Debian 12, minus its host setup and tests:
#   docker build -t dnsgate:0.1.0 .
#
# Stage 1 compiles the native libbpf binding, the eBPF objects and the TypeScript against Debian
# 12's libbpf 1.1; stage 2 is the same Debian release, slim, with the runtime libraries and the
# tools the agent runs (nft for the DNS redirection, ip for pod interfaces and routes).

FROM node:20-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends clang llvm libbpf-dev libelf-dev zlib1g-dev make g++ python3 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src

# Dependencies first, so a source change does not reinstall them.
COPY package.json package-lock.json ./
COPY packages/libbpf-ts/package.json packages/libbpf-ts/
# `npm install`, not `npm ci`: see scripts/prepare.sh (lockfile without other platforms' optional
# packages); the locked versions are still what gets installed.
RUN npm install --no-audit --no-fund

COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build-bpf.sh scripts/
COPY packages/libbpf-ts packages/libbpf-ts
COPY bpf bpf
COPY src src
COPY bin bin
# src/api reads the CRDs' schemas at run time (they are its validation schema).
COPY manifests/*.yaml manifests/

# The steps of scripts/build-native.sh without its bpffs mount (a build has no CAP_SYS_ADMIN) and
# test fixtures: the addon against the image's own Node headers, then the binding's TypeScript.
RUN node_modules/.bin/node-gyp rebuild --directory packages/libbpf-ts --nodedir /usr/local -j 2 \
 && node_modules/.bin/tsc -p packages/libbpf-ts/tsconfig.json \
 && bash scripts/build-bpf.sh \
 && npm run build \
 && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libbpf1 libelf1 zlib1g nftables iproute2 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/dnsgate
COPY --from=build /src/package.json ./
# node_modules/libbpf-ts is the workspace symlink to packages/libbpf-ts, copied below.
COPY --from=build /src/node_modules node_modules
COPY --from=build /src/packages/libbpf-ts/package.json packages/libbpf-ts/
COPY --from=build /src/packages/libbpf-ts/dist packages/libbpf-ts/dist
COPY --from=build /src/packages/libbpf-ts/build/Release/bpf_ts.node packages/libbpf-ts/build/Release/
COPY --from=build /src/dist dist
COPY --from=build /src/bin bin
COPY --from=build /src/bpf/build bpf/build
COPY --from=build /src/manifests manifests
ENV NODE_ENV=production
ENTRYPOINT ["node", "/opt/dnsgate/bin/dnsgate.js"]
CMD ["--help"]
