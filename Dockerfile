# memlens: one per node, reading the host's /proc, /sys and /dev/kmsg mounted under /host.
#
#   docker build -t memlens .
#   docker run -d --name memlens --privileged --pid=host --network=host \
#     -v /proc:/host/proc:ro -v /sys:/host/sys -v /dev/kmsg:/host/dev/kmsg \
#     -v /var/lib/memlens:/var/lib/memlens memlens
#
# BASE: any Node.js 20+ image with npm (the default is the official LTS slim image); the tests
# build it from a base made on the test machine (test/image/).
ARG BASE=node:20-bookworm-slim

# ---- build: dev dependencies, TypeScript and the page compiled to build/, then dev dependencies removed.
FROM ${BASE} AS build
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY web ./web
COPY scripts/build-web.mjs ./scripts/build-web.mjs
# build/src: the exporter; build/web: the page's static bundle served at / (esbuild, a dev dependency).
RUN node node_modules/typescript/bin/tsc -p tsconfig.json && node scripts/build-web.mjs \
 && npm prune --omit=dev --no-audit --no-fund

# ---- run: production dependencies and the compiled code only.
FROM ${BASE}
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="memlens" \
      org.opencontainers.image.description="Linux memory exporter for Prometheus and OpenTelemetry: per-process and per-cgroup memory, OOM kills, early warning and snapshots before the OOM killer" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="https://github.com/memlens/memlens" \
      org.opencontainers.image.documentation="https://github.com/memlens/memlens#readme"
ENV NODE_ENV=production \
    MEMLENS_PATH_PROCFS=/host/proc \
    MEMLENS_PATH_SYSFS=/host/sys \
    MEMLENS_PATH_KMSG=/host/dev/kmsg \
    MEMLENS_SNAPSHOT_DIR=/var/lib/memlens/snapshots \
    GLIBC_TUNABLES=glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=131072:glibc.malloc.trim_threshold=131072
WORKDIR /opt/memlens
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/build/src ./build/src
COPY --from=build /src/build/web ./build/web
COPY bin ./bin
# Root, on purpose: reading other users' /proc/PID/smaps_rollup needs CAP_SYS_PTRACE, their
# /proc/PID files and the cgroup tree CAP_DAC_READ_SEARCH, /dev/kmsg CAP_SYSLOG, and early
# warning on cgroup v1 writes cgroup.event_control. The README's restricted mode runs it with
# those capabilities only and says what each one's absence costs.
USER root
EXPOSE 9966
# /healthz answers 200 while the HTTP server runs (it stays open when --web.config.file asks for auth).
HEALTHCHECK --interval=30s --timeout=10s --retries=3 CMD ["node", "bin/healthcheck.js"]
# memlens is PID 1: it handles SIGTERM/SIGINT itself (finishes the scrape in flight, closes its
# watches, restores any oom_kill_disable it set) and exits 0.
STOPSIGNAL SIGTERM
# The node flags and GLIBC_TUNABLES are bin/memlens.js's (why: its header).
ENTRYPOINT ["node", "--max-semi-space-size=1", "--heap-growing-percent=20", "--no-memory-reducer", "bin/memlens.js"]
