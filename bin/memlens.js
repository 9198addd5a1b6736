#!/usr/bin/env -S GLIBC_TUNABLES=glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=131072:glibc.malloc.trim_threshold=131072 node --max-semi-space-size=1 --heap-growing-percent=20 --no-memory-reducer
// How memlens is started (the same in package.json "start" and the Dockerfile's ENV/ENTRYPOINT;
// test/unit/launchers.test.ts keeps the three alike). Measured in bench/RESULTS.md, "Peak resident
// memory at 1000 cgroups":
// --max-semi-space-size=1: V8's young generation grows to 32 MiB by default while a scrape of
//   thousands of processes allocates short-lived strings; capped at 1 MiB the peak resident memory
//   at 3000 processes drops by ~17-20 MiB for no measurable CPU.
// --heap-growing-percent=20: after each full GC V8 lets the old generation grow by up to 4x its live
//   size before the next one (its factor where the heap may reach GiBs); every collection promotes most of what
//   it allocates (it lasts longer than two 1 MiB scavenges), so the heap climbed to 250 MiB at 1000
//   cgroups before a full GC. 1.2x (V8 keeps a minimum step of a few MiB) bounds it without a hard
//   limit: unlike --max-old-space-size, nothing is killed when memlens needs more.
// --no-memory-reducer: V8's memory reducer shrinks the heap when the program looks idle, with a few full GCs
//   (three "Mark-Compact (reduce)" of 3-14 ms each, about 13 s after a scrape); the next scrape then grows it back.
//   Scraped every 15 s, that cost 27-54 ms of user CPU per scrape at 1000 cgroups + 1000 processes (scrape 98-101
//   against 125-155 ms of user time; 348-363 against 406-411 ms per 15 s cycle), for no lower peak (89-91 MiB
//   either way) and 0-5 MiB more idle resident memory (bench/RESULTS.md, sessions 6-7).
// GLIBC_TUNABLES (glibc's malloc, for V8's array buffers, compiler zones and worker threads): two
//   arenas instead of 8 per core, and blocks from 128 KiB up mapped and unmapped on their own, with
//   the heap's free top returned above 128 KiB, instead of glibc's thresholds that rise with the
//   largest block freed (a multi-MB exposition buffer kept up to twice that much resident).
// Entry point: the compiled CLI lives in build/ (`npm run build`, or `npm start` builds if needed).
import { main } from '../build/src/cli.js';

process.exitCode = await main(process.argv.slice(2));
