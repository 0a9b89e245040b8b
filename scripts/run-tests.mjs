#!/usr/bin/env node
// Collects the compiled test files of every package (dist/**/*.test.js) and hands them to
// Node's built-in test runner; Node 20's --test takes no globs, so we list them ourselves.
// Usage: node scripts/run-tests.mjs [substring-filter...]
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const roots = ['api-schemas/dist', 'controller/dist', 'kubectl-like-cli/dist', 'dashboard/dist', 'sdk/typescript/dist', 'test/dist'];
const filters = process.argv.slice(2);

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const files = roots
  .map((r) => join(root, r))
  .filter((d) => existsSync(d))
  .flatMap((d) => walk(d, []))
  .filter((f) => filters.length === 0 || filters.some((s) => relative(root, f).includes(s)))
  .sort();

if (files.length === 0) {
  console.error('run-tests: no test files found (did the build run?)');
  process.exit(1);
}
const concurrency = process.env.SK_TEST_CONCURRENCY ?? '2';
const r = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, ...files], { stdio: 'inherit', cwd: root });
process.exit(r.status ?? 1);
