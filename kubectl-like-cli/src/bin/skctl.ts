#!/usr/bin/env node
// skctl: a kubectl-like command line for Sandkasten.
import { main } from '../main.js';

// A closed pipe (skctl get … | head) is not an error worth a stack trace.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

process.exitCode = await main(process.argv.slice(2));
