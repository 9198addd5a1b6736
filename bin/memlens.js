#!/usr/bin/env -S node --max-semi-space-size=1
// --max-semi-space-size=1: V8's young generation grows to 32 MiB by default while a scrape of
// thousands of processes allocates short-lived strings; capped at 1 MiB the peak resident memory
// at 3000 processes drops by ~17-20 MiB for no measurable CPU (bench/RESULTS.md).
// Entry point: the compiled CLI lives in build/ (`npm run build`, or `npm start` builds if needed).
import { main } from '../build/src/cli.js';

process.exitCode = await main(process.argv.slice(2));
