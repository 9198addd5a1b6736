#!/usr/bin/env node
// The image's HEALTHCHECK: exit 0 when memlens answers 200 on /healthz. Reads the port from
// MEMLENS_WEB_LISTEN_ADDRESS as memlens does ([host]:port, default :9966); asks on loopback.
const listen = process.env.MEMLENS_WEB_LISTEN_ADDRESS ?? ':9966';
const port = Number(listen.slice(listen.lastIndexOf(':') + 1));
const ac = new AbortController();
setTimeout(() => ac.abort(), 4000).unref();
fetch(`http://127.0.0.1:${port}/healthz`, { signal: ac.signal }).then(
  (r) => process.exit(r.status === 200 ? 0 : 1),
  () => process.exit(1),
);
