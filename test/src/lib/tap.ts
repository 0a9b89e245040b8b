// node-agent's C test drivers (node-agent/tests/*.c) print TAP; these helpers build them and read
// their output so each TAP line can become one subtest.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { repoRoot } from './bundle.js';

export interface TapLine { ok: boolean; name: string; skip?: string; detail?: string }

/** Builds a node-agent make target (serialised: test files run in parallel and may build at once). */
export function buildDriver(target: string): void {
  const r = spawnSync('flock', ['/tmp/sandkasten-node-agent-make.lock', 'make', '-s', '-C', 'node-agent', target], { cwd: repoRoot, encoding: 'utf8' });
  assert.equal(r.status, 0, `make ${target} failed:\n${r.stdout}${r.stderr}`);
}

/** The TAP lines and the plan (1..N; -1 when the driver printed none). */
export function parseTap(out: string): { lines: TapLine[]; plan: number } {
  const lines: TapLine[] = [];
  let plan = -1;
  for (const l of out.split('\n')) {
    const m = /^(not )?ok \d+ - (.*?)(?: # SKIP (.*))?$/.exec(l);
    if (m) {
      const [, not, rest = '', skip] = m;
      const colon = not ? rest.indexOf(': ') : -1;
      lines.push({ ok: !not, name: colon >= 0 ? rest.slice(0, colon) : rest, ...(skip ? { skip } : {}), ...(colon >= 0 ? { detail: rest.slice(colon + 2) } : {}) });
    }
    const p = /^1\.\.(\d+)$/.exec(l);
    if (p) plan = Number(p[1]);
  }
  return { lines, plan };
}
