// Both spawners against real processes: output and arguments byte-exact, exit codes and signals,
// time limits, concurrency; the helper shell's own failure modes and its files.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirectSpawner, ShellSpawner, type Spawner } from './spawner.js';

const CAPTURE = { capture: true } as const;

function suite(name: string, make: (ioParent: string) => Spawner): void {
  describe(name, () => {
    const withSpawner = async (fn: (s: Spawner, dir: string) => Promise<void>) => {
      const dir = mkdtempSync(join(tmpdir(), 'sk-spawner-'));
      const s = make(join(dir, 'io'));
      try {
        await fn(s, dir);
      } finally {
        s.close();
        rmSync(dir, { recursive: true, force: true });
      }
    };

    test('arguments and output travel byte-exact; exit codes', async () => {
      await withSpawner(async (s) => {
        const args = ["it's", 'two words', 'a\nnewline', '$HOME `id` $(id) \\ "q"', '', 'ünïcødé', "''", '*'];
        const r = await s.run(['/bin/sh', '-c', 'for a in "$@"; do printf "<%s>" "$a"; done; echo err >&2; exit 3', 'sh', ...args], CAPTURE, 5000);
        assert.equal(r.stdout, args.map((a) => `<${a}>`).join(''));
        assert.equal(r.stderr, 'err\n');
        assert.equal(r.code, 3);
        assert.equal(r.signal, null);
        assert.equal(r.timedOut, false);
        assert.equal((await s.run(['/bin/true'], CAPTURE, 5000)).code, 0);
      });
    });

    test('a death by signal is reported as the signal; stdin is empty', async () => {
      await withSpawner(async (s) => {
        const r = await s.run(['/bin/sh', '-c', 'kill -TERM $$'], CAPTURE, 5000);
        assert.equal(r.code, null);
        assert.equal(r.signal, 'SIGTERM');
        assert.equal((await s.run(['/bin/cat'], CAPTURE, 5000)).stdout, '');
      });
    });

    test('appendTo: stdout and stderr appended to the file, nothing captured', async () => {
      await withSpawner(async (s, dir) => {
        const log = join(dir, 'log');
        writeFileSync(log, 'before\n');
        const r = await s.run(['/bin/sh', '-c', 'echo out; echo err >&2'], { appendTo: log }, 5000);
        assert.equal(r.code, 0);
        assert.equal(r.stdout, '');
        assert.equal(readFileSync(log, 'utf8'), 'before\nout\nerr\n');
      });
    });

    test('the time limit kills the command', async () => {
      await withSpawner(async (s) => {
        const t0 = performance.now();
        const r = await s.run(['/bin/sleep', '30'], CAPTURE, 200);
        assert.ok(performance.now() - t0 < 5000);
        assert.equal(r.timedOut, true);
        assert.equal(r.signal, 'SIGKILL');
      });
    });

    test('a missing binary is a failure, not a hang', async () => {
      await withSpawner(async (s) => {
        const r = await s.run(['/does/not/exist'], CAPTURE, 5000).catch((e: Error) => e);
        if (r instanceof Error) assert.match(r.message, /ENOENT/);
        else assert.equal(r.code, 127, JSON.stringify(r));
      });
    });

    test('50 concurrent calls each get their own answer', async () => {
      await withSpawner(async (s) => {
        const rs = await Promise.all(Array.from({ length: 50 }, (_, i) => s.run(['/bin/sh', '-c', `echo ${i}; exit ${i % 7}`], CAPTURE, 10_000)));
        rs.forEach((r, i) => {
          assert.equal(r.stdout, `${i}\n`);
          assert.equal(r.code, i % 7);
        });
      });
    });
  });
}

suite('DirectSpawner', () => new DirectSpawner());
suite('ShellSpawner', (io) => new ShellSpawner(io));

describe('ShellSpawner helper', () => {
  const dir = () => mkdtempSync(join(tmpdir(), 'sk-spawner-'));

  test('commands are not children of this process; output files are removed; close removes the directory', async () => {
    const d = dir();
    const s = new ShellSpawner(d);
    try {
      const r = await s.run(['/bin/sh', '-c', 'echo $PPID'], CAPTURE, 5000);
      assert.notEqual(Number(r.stdout), process.pid);
      const io = readdirSync(d).filter((n) => n.startsWith('.node-agent-io-'));
      assert.equal(io.length, 1);
      assert.deepEqual(readdirSync(join(d, io[0]!)), []);
      s.close();
      assert.deepEqual(readdirSync(d), []);
      // Usable again after close.
      assert.equal((await s.run(['/bin/true'], CAPTURE, 5000)).code, 0);
    } finally {
      s.close();
      rmSync(d, { recursive: true, force: true });
    }
  });

  test('close lets calls in flight finish', async () => {
    const d = dir();
    const s = new ShellSpawner(d);
    try {
      const p = s.run(['/bin/sh', '-c', 'sleep 0.2; echo late'], CAPTURE, 5000);
      await new Promise((r) => setTimeout(r, 50));
      s.close();
      assert.equal((await p).stdout, 'late\n');
      assert.deepEqual(readdirSync(d), []);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  test('the helper killed: calls in flight still report, the next call starts a new helper; with their subshells gone too, they fail', async () => {
    const d = dir();
    const s = new ShellSpawner(d);
    const orphans: number[] = [];
    try {
      await s.run(['/bin/true'], CAPTURE, 5000);
      const mark = join(d, 'started');
      const inflight = s.run(['/bin/sh', '-c', `echo $PPID > ${mark}; sleep 0.3; echo done`], CAPTURE, 10_000);
      const subshell = await waitForPid(mark);
      process.kill(helperPid(), 'SIGKILL');
      assert.equal((await inflight).stdout, 'done\n');
      assert.equal((await s.run(['/bin/sh', '-c', 'echo again'], CAPTURE, 5000)).stdout, 'again\n');
      assert.ok(subshell > 0);

      rmSync(mark);
      const lost = s.run(['/bin/sh', '-c', `echo $$ $PPID > ${mark}; exec sleep 30`], CAPTURE, 60_000);
      const [sleeper, sub] = await waitForPids(mark);
      orphans.push(sleeper!);
      process.kill(helperPid(), 'SIGKILL');
      process.kill(sub!, 'SIGKILL');
      await assert.rejects(lost, /helper shell ended \(SIGKILL\) before the command reported/);
    } finally {
      s.close();
      for (const p of orphans) if (p > 0) process.kill(p, 'SIGKILL');
      rmSync(d, { recursive: true, force: true });
    }
  });

  test('directories of dead processes are removed when a helper starts; live ones stay', async () => {
    const d = dir();
    try {
      mkdirSync(join(d, '.node-agent-io-999999999-abc'), { recursive: true });
      writeFileSync(join(d, '.node-agent-io-999999999-abc', '1.out'), 'x');
      mkdirSync(join(d, `.node-agent-io-${process.ppid}-abc`));
      const s = new ShellSpawner(d);
      await s.run(['/bin/true'], CAPTURE, 5000);
      s.close();
      assert.ok(!existsSync(join(d, '.node-agent-io-999999999-abc')));
      assert.ok(existsSync(join(d, `.node-agent-io-${process.ppid}-abc`)));
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});

async function waitForPids(file: string): Promise<number[]> {
  for (let i = 0; i < 500; i++) {
    const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
    if (text.endsWith('\n')) return text.trim().split(' ').map(Number);
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${file} not written`);
}

async function waitForPid(file: string): Promise<number> {
  return (await waitForPids(file))[0]!;
}

/** The helper shell: this process's /bin/sh child running the helper script. */
function helperPid(): number {
  for (const p of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('while IFS= read -r line')) return Number(p);
    } catch {
      // gone
    }
  }
  throw new Error('no helper shell found');
}
