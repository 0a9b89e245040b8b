// skctl exec, exec -it and stats against the real daemon binary with a real sandbox: output
// streamed as it comes, exit codes passed on, timeouts, an interactive terminal driven in tmux
// (typed input, window size, exit code), and the stats table.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SandboxClient, type SandboxSession } from '@sandkasten/client';
import { removeDir, startDaemon, tempDir, type Daemon } from '@sandkasten/controller/dist/bin/testutil.js';
import { sandboxSkip } from '@sandkasten/controller/dist/controllers/session-testutil.js';
import { BIN, runSkctl } from '../testutil.js';
import { sessionName, shellQuote } from './exec.js';

test('shellQuote: safe words as they are, others in single quotes', () => {
  assert.equal(shellQuote('ls'), 'ls');
  assert.equal(shellQuote('/a/b.txt'), '/a/b.txt');
  assert.equal(shellQuote('exit 3'), "'exit 3'");
  assert.equal(shellQuote("it's"), "'it'\\''s'");
  assert.equal(shellQuote(''), "''");
  assert.equal(shellQuote('$HOME'), "'$HOME'");
});

test('sessionName: NAME or session/NAME', () => {
  assert.equal(sessionName('box'), 'box');
  assert.equal(sessionName('ses/box'), 'box');
  assert.equal(sessionName('sessions.sandkasten.dev/box'), 'box');
  assert.throws(() => sessionName('ws/box'), /does not name a session/);
  assert.throws(() => sessionName('Box'), /invalid session name "Box"/);
});

const tmuxOk = spawnSync('tmux', ['-V']).status === 0;

describe('skctl exec and stats (daemon, real sandbox)', { skip: sandboxSkip, timeout: 180_000 }, () => {
  let dir: string;
  let home: string;
  let daemon: Daemon;
  let env: Record<string, string>;
  let client: SandboxClient;
  let box: SandboxSession;

  before(async () => {
    dir = tempDir('skctl-exec-');
    home = mkdtempSync(join(tmpdir(), 'skctl-exec-home-'));
    daemon = await startDaemon({ dir });
    client = new SandboxClient({ baseUrl: daemon.url, apiKey: 'test-key' });
    box = await client.createSession({ name: 'box' });
    env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, XDG_CONFIG_HOME: join(home, 'config'), SANDKASTEN_SERVER: daemon.url, SANDKASTEN_API_KEY: 'test-key' };
  });
  after(async () => {
    if (client) {
      for (const s of await client.listSessions().catch(() => [])) await s.destroy().catch(() => undefined);
      client.close();
    }
    await daemon?.stop();
    if (dir) removeDir(dir);
    if (home) rmSync(home, { recursive: true, force: true });
  });

  const skctl = (...args: string[]) => runSkctl(args, env, undefined, 30_000);

  test('exec: the exit code is skctl\'s; words are quoted as argv, one word is a command line', async () => {
    let r = await skctl('exec', 'box', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3');
    assert.equal(r.code, 3);
    assert.equal(r.stdout, 'out\nerr\n', 'the terminal\'s output, both streams');
    assert.equal(r.stderr, '');
    r = await skctl('exec', 'box', '--', 'echo', '$HOME', "it's");
    assert.equal(r.stdout, "$HOME it's\n");
    r = await skctl('exec', 'box', '--', 'cd /tmp && export V=1 && pwd');
    assert.equal(r.stdout, '/tmp\n');
    r = await skctl('exec', 'session/box', '--', 'echo "$V $PWD"');
    assert.equal(r.stdout, '1 /tmp\n', 'the shell is the session\'s persistent one');
    assert.equal(r.code, 0);
    // Bytes exactly as the command wrote them.
    const raw = spawnSync(process.execPath, [BIN, 'exec', 'box', '--', "printf 'a\\377b'"], { env });
    assert.deepEqual([...raw.stdout], [0x61, 0xff, 0x62]);
  });

  test('exec: output is streamed while the command runs', async () => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [BIN, 'exec', 'box', '--', 'echo first; sleep 1.5; echo second'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: { text: string; at: number }[] = [];
    child.stdout.setEncoding('utf8').on('data', (d: string) => chunks.push({ text: d, at: performance.now() - t0 }));
    const code = await new Promise<number | null>((r) => child.on('close', r));
    const total = performance.now() - t0;
    assert.equal(code, 0);
    assert.equal(chunks.map((c) => c.text).join(''), 'first\nsecond\n');
    assert.ok(chunks[0]!.at < total - 1000, `first output at ${chunks[0]!.at.toFixed(0)} ms, exit at ${total.toFixed(0)} ms`);
  });

  test('exec: --timeout interrupts; Ctrl-C interrupts; bad usage is a clear error', async () => {
    let r = await skctl('exec', 'box', '--timeout', '500ms', '--', 'sleep 20');
    assert.ok(r.code === 130 || r.code === 137, `exit ${r.code}`);
    assert.match(r.stderr, /the command ran out of time \(--timeout 0\.5s\) and was interrupted/);

    const child = spawn(process.execPath, [BIN, 'exec', 'box', '--', 'echo go; sleep 30'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('go')) child.kill('SIGINT');
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    assert.equal(await new Promise((r) => child.on('close', r)), 130);
    assert.match(err, /interrupted/);
    // The shell is free again: the daemon interrupted the command when the stream closed.
    const deadline = Date.now() + 10_000;
    for (;;) {
      r = await skctl('exec', 'box', '--', 'echo free');
      if (r.code === 0) break;
      assert.match(r.stderr, /Conflict/);
      assert.ok(Date.now() < deadline, r.stderr);
    }

    r = await skctl('exec', 'box');
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'error: a command is required: skctl exec box -- COMMAND… (or skctl exec -it box for an interactive shell)\n');
    r = await skctl('exec', '-i', 'box');
    assert.match(r.stderr, /needs both -i and -t/);
    r = await skctl('exec', 'nope', '--', 'true');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error from server \(NotFound\): .*"nope" not found\n$/);
    r = await skctl('exec', '--help');
    assert.match(r.stdout, /Examples:\n {2}skctl exec demo -- ls -la \/workspace/);
  });

  test('exec -it in tmux: a shell on the terminal, window size, exit code; a command on the terminal', { skip: !tmuxOk && 'tmux is not installed' }, async () => {
    const tmux = new Tmux(env);
    try {
      tmux.start(`${process.execPath} ${BIN} exec -it box; echo "EXIT=$?"`, 100, 30);
      await tmux.waitFor(/root@box:\S*#$/m);
      tmux.keys('echo $((6*7))', 'Enter');
      await tmux.waitFor(/^42$/m);
      tmux.keys('stty size', 'Enter');
      await tmux.waitFor(/^30 100$/m);
      tmux.resize(90, 25);
      tmux.keys('clear; stty size', 'Enter');
      await tmux.waitFor(/^25 90$/m);
      tmux.keys('exit 4', 'Enter');
      await tmux.waitFor(/^EXIT=4$/m);

      tmux.start(`${process.execPath} ${BIN} exec -it box -- python3 -q; echo "EXIT=$?"`, 100, 30);
      await tmux.waitFor(/^>>>$/m);
      tmux.keys('print(6*7)', 'Enter');
      await tmux.waitFor(/^42$/m);
      tmux.keys('raise SystemExit(7)', 'Enter');
      await tmux.waitFor(/^EXIT=7$/m);
      assert.doesNotMatch(tmux.capture(), /sk-run|printf|exec /, 'the line that starts the command is not shown');

      // Ctrl-] detaches.
      tmux.start(`${process.execPath} ${BIN} exec -it box; echo "EXIT=$?"`, 100, 30);
      await tmux.waitFor(/root@box:\S*#$/m);
      tmux.keys('C-]');
      await tmux.waitFor(/\[detached from default\/box\]\s+EXIT=0/);
    } finally {
      tmux.kill();
    }
  });

  test('exec -it with piped input: the end of input ends the shell', async () => {
    const r = await runSkctl(['exec', '-it', 'box'], env, 'echo piped; exit 2\n', 30_000);
    assert.equal(r.code, 2);
    assert.match(r.stdout, /\rpiped\r\n/);
  });

  test('stats: a table of CPU, memory and processes against their limits; json; errors', async () => {
    let r = await skctl('stats', 'box');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^NAME {3}CPU\(cores\) {3}MEMORY\(bytes\) {3}PIDS\nbox {4}\d+m\/1 +[\d.]+(Ki|Mi)\/512Mi +\d+\/256\n$/);
    // A busy session shows its CPU.
    const busy = box.execStream('timeout 3 sh -c "while :; do :; done"; echo done');
    const draining = busy.result;
    await new Promise((r) => setTimeout(r, 300));
    r = await skctl('stats', 'box', '--no-headers', '--interval', '1s');
    const m = /^box\s+(\d+)m\/1\s/.exec(r.stdout);
    assert.ok(m && Number(m[1]) > 300, `a spinning shell uses CPU: ${r.stdout}`);
    await draining;
    r = await skctl('stats', 'box', '-o', 'json');
    const j = JSON.parse(r.stdout) as { name: string; cpuMillicores: number; memory: { limitBytes: number }; pids: { limit: number } };
    assert.equal(j.name, 'box');
    assert.equal(typeof j.cpuMillicores, 'number');
    assert.equal(j.memory.limitBytes, 512 << 20);
    assert.equal(j.pids.limit, 256);
    r = await skctl('stats', 'box', 'nope');
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^NAME .*\nbox /);
    assert.match(r.stderr, /NotFound.*"nope" not found/);
    r = await skctl('stats');
    assert.equal(r.stderr, 'error: a session name is required: skctl stats NAME…\n');
  });
});

/** A tmux server of its own (a private socket), so tests never touch anyone else's sessions. */
class Tmux {
  private readonly socket = `skctl-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  private started = false;

  constructor(private readonly env: Record<string, string>) {}

  private run(...args: string[]): string {
    const r = spawnSync('tmux', ['-L', this.socket, ...args], { encoding: 'utf8', env: { ...process.env, ...this.env } });
    if (r.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  }

  start(command: string, cols: number, rows: number): void {
    if (this.started) this.run('kill-session', '-t', 'sk');
    const envArgs = Object.entries(this.env).map(([k, v]) => `${k}=${shellQuote(v)}`).join(' ');
    this.run('new-session', '-d', '-s', 'sk', '-x', String(cols), '-y', String(rows), `env ${envArgs} sh -c ${shellQuote(command + '; sleep 60')}`);
    this.started = true;
  }

  keys(...keys: string[]): void {
    this.run('send-keys', '-t', 'sk', ...keys);
  }

  resize(cols: number, rows: number): void {
    this.run('resize-window', '-t', 'sk', '-x', String(cols), '-y', String(rows));
  }

  capture(): string {
    return this.run('capture-pane', '-p', '-t', 'sk');
  }

  async waitFor(re: RegExp, ms = 15_000): Promise<void> {
    const deadline = Date.now() + ms;
    for (;;) {
      const screen = this.capture();
      if (re.test(screen)) return;
      if (Date.now() > deadline) throw new Error(`no ${re} on the screen within ${ms} ms:\n${screen}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  kill(): void {
    spawnSync('tmux', ['-L', this.socket, 'kill-server'], { stdio: 'ignore' });
  }
}
