#!/usr/bin/env node
// Process entry: run the CLI and exit with its code once output is flushed.
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2));
