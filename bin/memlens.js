#!/usr/bin/env node
// Entry point: the compiled CLI lives in build/ (`npm run build`, or `npm start` builds if needed).
import { main } from '../build/src/cli.js';

process.exitCode = await main(process.argv.slice(2));
