// The runner as PID 1 of its own PID namespace, driven through RunnerClient: the persistent
// shell (state, stdin, background jobs, timeouts, restarts), streaming, output handling,
// zombie reaping and shutdown.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { RunnerError, type RunnerClient } from './index.js';
import { Frame, Tag, encodeRequest } from './protocol.js';
import { startRunner, type StandaloneRunner } from './testing.js';

/** Process states in the runner's PID namespace: pid → [state, ppid, comm]. */
async function processes(c: RunnerClient): Promise<Map<number, { state: string; ppid: number; comm: string }>> {
  const r = await c.run(['/bin/sh', '-c', 'cat /proc/[0-9]*/stat 2>/dev/null']);
  const out = new Map<number, { state: string; ppid: number; comm: string }>();
  for (const line of r.stdout.toString().split('\n')) {
    const m = /^(\d+) \((.*)\) (\S) (\d+)/.exec(line);
    if (m) out.set(Number(m[1]), { comm: m[2]!, state: m[3]!, ppid: Number(m[4]) });
  }
  return out;
}

describe('persistent shell (bash, runner as PID 1)', { timeout: 120_000 }, () => {
  let r: StandaloneRunner;
  let c: RunnerClient;
  before(async () => {
    r = await startRunner({ killGraceMs: 300 });
    c = r.client;
  });
  after(async () => {
    await r.stop();
  });

  test('the runner is PID 1 and reports a live shell', async () => {
    const info = await c.info();
    assert.equal(info.pid, 1);
    assert.equal(info.pid1, true);
    assert.equal(info.protocol, 1);
    assert.match(info.shell, /bash$/);
    await c.exec('true');
    const again = await c.info();
    assert.equal(again.shellAlive, true);
    assert.equal(again.shellState, 'idle');
    assert.ok(again.shellPid! > 1);
  });

  test('cwd, exported and plain variables, functions, aliases and $? persist between execs', async () => {
    let res = await c.exec(`mkdir -p /tmp/sk-persist-${process.pid} && cd /tmp/sk-persist-${process.pid} && export SK_A=exported; SK_B=plain`);
    assert.equal(res.exitCode, 0);
    assert.equal(res.cwd, `/tmp/sk-persist-${process.pid}`);
    const dir = res.cwd!;
    await c.exec('greet() { echo "hello $1"; }; alias shout="echo LOUD"');
    res = await c.exec('pwd; echo "$SK_A $SK_B"; greet you; shout; sh -c \'echo child:$SK_A:$SK_B\'');
    assert.equal(res.output.toString(), `${dir}\nexported plain\nhello you\nLOUD\nchild:exported:\n`);
    assert.equal(res.cwd, dir);
    // An alias defined earlier in the same command applies to the lines after it.
    res = await c.exec('alias later="echo later-alias"\nlater');
    assert.equal(res.output.toString(), 'later-alias\n');
    await c.exec('false');
    assert.equal((await c.exec('echo $?')).output.toString(), '1\n');
    await c.exec(`cd / && rm -rf ${dir}`);
  });

  test('background jobs: `sleep 100 &` returns at once and the job lives on', async () => {
    const t0 = Date.now();
    const res = await c.exec(`sleep 100 & echo $! > /tmp/sk-bg-${process.pid}.pid`);
    assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
    assert.equal(res.exitCode, 0);
    const jobs = await c.exec('jobs -l');
    assert.match(jobs.output.toString(), /Running\s+sleep 100/);
    const pid = Number((await c.exec(`cat /tmp/sk-bg-${process.pid}.pid`)).output.toString());
    assert.equal((await processes(c)).get(pid)?.comm, 'sleep');
    await c.exec(`kill %1; wait; rm -f /tmp/sk-bg-${process.pid}.pid`);
    assert.equal((await c.exec('jobs')).output.toString(), '');
  });

  test('stdin is at end of file: cat returns at once, read fails', async () => {
    const t0 = Date.now();
    const res = await c.exec('cat; echo cat=$?; read x; echo read=$?; head -c 10');
    assert.equal(res.output.toString(), 'cat=0\nread=1\n');
    assert.ok(Date.now() - t0 < 1000);
  });

  test('multi-line commands, heredocs, quotes and marker-like text are run as written', async () => {
    const script = [
      'x=1',
      'if [ "$x" = 1 ]; then',
      '  echo "multi',
      'line"',
      'fi',
      "cat <<'EOF'",
      '$HOME is not expanded `here`',
      'EOF',
      'cat <<EOF',
      'sum=$((2 + 3))',
      'EOF',
      "printf '\\036%s0;/fake\\036%s\\n' deadbeef deadbeef",
      'echo "__sk_n=$__sk_n" | grep -c __sk_n',
      'printf "no newline at the end"',
    ].join('\n');
    const res = await c.exec(script);
    assert.equal(
      res.output.toString('latin1'),
      'multi\nline\n$HOME is not expanded `here`\nsum=5\n\x1edeadbeef0;/fake\x1edeadbeef\n1\nno newline at the end',
    );
    assert.equal(res.exitCode, 0);
  });

  test('output bytes come through exactly: no CRLF, non-UTF-8 and NUL intact', async () => {
    const res = await c.exec("printf 'a\\r\\nb\\nc\\377\\376\\000\\200d\\033[31mred\\033[0m'");
    assert.deepEqual(res.output, Buffer.from('a\r\nb\nc\xff\xfe\x00\x80d\x1b[31mred\x1b[0m', 'latin1'));
    const bytes = randomBytes(200_000);
    await c.writeFile('/blob', bytes);
    // The fs root is not the shell's root: ask the runner where it is.
    const info = await c.info();
    const dumped = await c.exec(`cat '${info.fsRoot}/blob'`);
    assert.equal(Buffer.compare(dumped.output, bytes), 0);
    await c.remove('/blob');
  });

  test('a command with non-UTF-8 bytes and a non-UTF-8 cwd', async () => {
    const name = Buffer.concat([Buffer.from('/tmp/sk-'), Buffer.from([0xff, 0xfe]), Buffer.from(String(process.pid))]);
    const cmd = Buffer.concat([Buffer.from("mkdir -p '"), name, Buffer.from("' && cd '"), name, Buffer.from("' && printf '%s' \"$PWD\"")]);
    const res = await c.exec(cmd);
    assert.deepEqual(res.output, name);
    assert.deepEqual(res.rawCwd, name);
    assert.equal(res.cwd, name.toString('utf8'));
    await c.exec(Buffer.concat([Buffer.from("cd / && rmdir '"), name, Buffer.from("'")]));
  });

  test('output streams while the command runs', async () => {
    const stamps: { t: number; s: string }[] = [];
    const t0 = Date.now();
    const res = await c.exec('echo a; sleep 0.3; echo b', { onChunk: (b) => stamps.push({ t: Date.now() - t0, s: b.toString() }) });
    const tEnd = Date.now() - t0;
    assert.equal(res.output.toString(), 'a\nb\n');
    const first = stamps.find((x) => x.s.includes('a'))!;
    assert.ok(first.t < 200, `first chunk after ${first.t} ms`);
    assert.ok(tEnd - first.t >= 250, `first chunk ${first.t} ms, result ${tEnd} ms`);

    // the async-iterator form
    const s = c.execStream('for i in 1 2 3; do echo $i; sleep 0.1; done');
    const seen: number[] = [];
    for await (const chunk of s) seen.push(Date.now(), chunk.length);
    const result = await s.result;
    assert.equal(result.exitCode, 0);
    assert.ok(seen.length >= 4, 'several chunks');
  });

  test('leaving an execStream loop early interrupts the command', async () => {
    const t0 = Date.now();
    const s = c.execStream(`echo started; sleep 30; echo never > /tmp/sk-never-${process.pid}`);
    for await (const chunk of s) {
      assert.equal(chunk.toString(), 'started\n');
      break;
    }
    const res = await s.result;
    assert.equal(res.cancelled, true);
    // 130 (SIGINT); 137 when the cancel caught `sleep` between fork and exec, where the child
    // still has the shell's SIGINT handler, and it took the SIGKILL. Either way it stopped.
    assert.ok([130, 137].includes(res.exitCode), `exit code ${res.exitCode}`);
    assert.equal(existsSync(`/tmp/sk-never-${process.pid}`), false);
    assert.ok(Date.now() - t0 < 1500);
    assert.equal((await c.exec('echo next')).output.toString(), 'next\n');
  });

  test('the output cap: the rest is dropped, the command runs to its end', async () => {
    const res = await c.exec('head -c 6000000 /dev/zero; echo done >&2; exit 0');
    assert.equal(res.truncated, true);
    assert.equal(res.output.length, 5 * 1024 * 1024);
    assert.equal(res.outputBytes, 6_000_000 + 5);
    assert.equal(res.exitCode, 0);
    const small = await c.exec('echo fine');
    assert.equal(small.truncated, false);
  });

  test('timeout: SIGINT stops the job, the shell and its state survive', async () => {
    await c.exec('export SURVIVOR=yes');
    const t0 = Date.now();
    const res = await c.exec('sleep 30; echo not-reached', { timeoutMs: 200 });
    assert.equal(res.timedOut, true);
    assert.equal(res.exitCode, 130);
    assert.ok(Date.now() - t0 < 1500);
    assert.doesNotMatch(res.output.toString(), /not-reached/);
    const after = await c.exec('echo $SURVIVOR');
    assert.equal(after.output.toString(), 'yes\n');
    assert.equal(after.shellRestarted, false);
  });

  test('timeout: a job that ignores SIGINT is killed, and the rest of the command is dropped', async () => {
    const res = await c.exec("bash -c 'trap \"\" INT; sleep 30'; echo not-reached", { timeoutMs: 200 });
    assert.equal(res.timedOut, true);
    assert.equal(res.exitCode, 137);
    assert.doesNotMatch(res.output.toString(), /not-reached/);
    assert.equal((await c.exec('echo $SURVIVOR')).output.toString(), 'yes\n');
  });

  test('timeout: a builtin loop in the shell is interrupted', async () => {
    const res = await c.exec('while :; do :; done', { timeoutMs: 200 });
    assert.equal(res.timedOut, true);
    assert.equal(res.exitCode, 130);
    assert.equal((await c.exec('echo $SURVIVOR')).shellRestarted, false);
  });

  test('timeout: a shell that traps SIGINT in a builtin loop is replaced', async () => {
    const res = await c.exec("trap '' INT; while :; do :; done", { timeoutMs: 200 });
    assert.equal(res.timedOut, true);
    assert.equal(res.shellExited, true);
    const next = await c.exec('echo "[$SURVIVOR]"');
    assert.equal(next.shellRestarted, true);
    assert.equal(next.output.toString(), '[]\n');
    assert.equal((await c.exec('true')).shellRestarted, false);
    await c.exec('export SURVIVOR=yes');
  });

  test('a concurrent exec is refused with BUSY, never interleaved', async () => {
    const first = c.exec('sleep 0.3; echo first');
    await new Promise((res) => setTimeout(res, 50));
    await assert.rejects(c.exec('echo second'), (e: unknown) => e instanceof RunnerError && e.code === 'BUSY' && /another exec is running/.test(e.message));
    assert.equal((await first).output.toString(), 'first\n');
  });

  test('cancel (AbortSignal) interrupts like a timeout', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const t0 = Date.now();
    const res = await c.exec('sleep 30', { signal: ac.signal });
    assert.equal(res.cancelled, true);
    assert.equal(res.timedOut, false);
    assert.equal(res.exitCode, 130);
    assert.ok(Date.now() - t0 < 1500);
    await assert.rejects(c.exec('true', { signal: ac.signal }), (e: unknown) => e instanceof RunnerError && e.code === 'ABORTED');
  });

  test('a client that hangs up mid-exec: the command is interrupted, the next exec runs', async () => {
    const sock = net.createConnection(r.socketPath);
    await once(sock, 'connect');
    sock.write(encodeRequest(Frame.EXEC, [[Tag.COMMAND, `sleep 30; echo never > /tmp/sk-hangup-${process.pid}`]]));
    await new Promise((res) => setTimeout(res, 100));
    assert.equal((await c.info()).shellState, 'busy');
    sock.destroy();
    // One exec may wait behind an abandoned one while it is interrupted.
    const t0 = Date.now();
    const res = await c.exec(`echo next; cat /tmp/sk-hangup-${process.pid} 2>&1`);
    assert.ok(Date.now() - t0 < 1500);
    assert.match(res.output.toString(), /^next\n.*No such file/);
  });

  test('signal: SIGINT to the foreground job', async () => {
    const running = c.exec('sleep 30');
    await new Promise((res) => setTimeout(res, 100));
    const s = await c.signal('INT');
    assert.equal(s.signal, 'SIGINT');
    assert.equal(s.target, 'job');
    assert.equal(s.execRunning, true);
    const res = await running;
    assert.equal(res.exitCode, 130);
    await assert.rejects(c.signal('NOPE'), (e: unknown) => e instanceof RunnerError && e.code === 'BAD_REQUEST');
  });

  test('`exit` ends the shell; a new one starts and the next exec says so', async () => {
    await c.exec('export GONE=soon; cd /tmp');
    const res = await c.exec('exit 7');
    assert.equal(res.shellExited, true);
    assert.equal(res.exitCode, 7);
    assert.equal(res.cwd, null);
    const next = await c.exec('echo "[$GONE]"; pwd');
    assert.equal(next.shellRestarted, true);
    assert.equal(next.output.toString(), `[]\n${r.dir}\n`);
    assert.equal((await c.exec('true')).shellRestarted, false);
  });

  test('the end of a command is found even when stderr is redirected or PROMPT_COMMAND replaced', async () => {
    assert.equal((await c.exec('exec 2>/dev/null; echo out')).output.toString(), 'out\n');
    assert.equal((await c.exec('echo err >&2; echo still')).output.toString(), 'still\n');
    await c.exec('exec 2>/dev/tty');
    assert.equal((await c.exec('PROMPT_COMMAND="true"; echo pc')).output.toString(), 'pc\n');
    const res = await c.exec('echo again');
    assert.equal(res.output.toString(), 'again\n');
    assert.equal(res.shellRestarted, false);
    await c.exec('PROMPT_COMMAND=__sk_p');
  });

  test('`set -e` and a failure end the shell, as in a terminal', async () => {
    const res = await c.exec('set -e; false; echo not-reached');
    assert.equal(res.shellExited, true);
    assert.equal(res.output.toString(), '');
    assert.equal((await c.exec('echo $-')).shellRestarted, true);
  });

  test('SIGINT to the runner interrupts the foreground job', async () => {
    const running = c.exec('sleep 30');
    await new Promise((res) => setTimeout(res, 100));
    process.kill(Number(readFileSync(`/proc/${r.child.pid}/task/${r.child.pid}/children`, 'utf8').trim()), 'SIGINT');
    const res = await running;
    assert.equal(res.exitCode, 130);
    assert.equal((await c.info()).pid, 1, 'the runner itself carries on');
  });

  test('zombies: orphans are re-parented to PID 1 and reaped', async () => {
    const res = await c.exec('for i in 1 2 3 4 5 6 7 8; do (sleep 0.2 & echo $!); done');
    const orphans = res.output.toString().trim().split('\n').map(Number);
    assert.equal(orphans.length, 8);
    const during = await processes(c);
    for (const pid of orphans) assert.equal(during.get(pid)?.ppid, 1, `orphan ${pid} belongs to PID 1`);
    // a double fork whose middle process exits at once, and a pipeline of short-lived ones
    await c.exec('sh -c "sleep 0.1 & exit 0"; (true | true &) ; sleep 0.5');
    await new Promise((res2) => setTimeout(res2, 200));
    const now = await processes(c);
    for (const pid of orphans) assert.equal(now.has(pid), false, `orphan ${pid} reaped`);
    const zombies = [...now.entries()].filter(([, p]) => p.state === 'Z');
    assert.deepEqual(zombies, []);
  });
});

describe('other shells', { timeout: 60_000 }, () => {
  test('/bin/sh (dash): state persists, timeouts work', async () => {
    const r = await startRunner({ shell: '/bin/sh' });
    try {
      const c = r.client;
      assert.equal((await c.info()).shell, '/bin/sh');
      await c.exec('cd /tmp && export A=1 && f() { echo fn; }');
      const res = await c.exec('echo $A; f; pwd');
      assert.equal(res.output.toString(), '1\nfn\n/tmp\n');
      assert.equal(res.cwd, '/tmp');
      const t = await c.exec('sleep 30', { timeoutMs: 200 });
      assert.equal(t.timedOut, true);
      assert.equal((await c.exec('echo $A')).output.toString(), '1\n');
      assert.equal((await c.exec('sleep 0.1 &')).exitCode, 0);
      await new Promise((res2) => setTimeout(res2, 300));
      assert.match((await c.exec('echo after')).output.toString(), /after\n$/);
    } finally {
      await r.stop();
    }
  });

  test('busybox ash: background jobs do not end the shell', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sk-ash-'));
    const sh = join(dir, 'sh');
    symlinkSync('/bin/busybox', sh);
    const b = await startRunner({ shell: sh });
    try {
      const c = b.client;
      await c.exec('export A=ash; cd /tmp');
      assert.equal((await c.exec('sleep 0.1 &')).exitCode, 0);
      await new Promise((res) => setTimeout(res, 300));
      const res = await c.exec('echo $A; pwd');
      assert.match(res.output.toString(), /ash\n\/tmp\n$/);
      assert.equal(res.shellRestarted, false);
    } finally {
      await b.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an exec waits for a slow shell to start; a cancel or a short timeout gives up on it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sk-slow-'));
    const sh = join(dir, 'slow-bash');
    writeFileSync(sh, '#!/bin/sh\nsleep 0.5\nexec /bin/bash "$@"\n', { mode: 0o755 });
    const b = await startRunner({ shell: sh });
    try {
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 50);
      await assert.rejects(b.client.exec('echo x', { signal: ac.signal }), (e: unknown) => e instanceof RunnerError && e.code === 'CANCELLED');
      await assert.rejects(b.client.exec('echo x', { timeoutMs: 50 }), (e: unknown) => e instanceof RunnerError && e.code === 'SHELL_UNAVAILABLE');
      const t0 = Date.now();
      const res = await b.client.exec('echo ready');
      assert.equal(res.output.toString(), 'ready\n');
      assert.ok(Date.now() - t0 < 2000);
    } finally {
      await b.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a shell that dies while starting: SHELL_UNAVAILABLE with the reason, retried by the next exec', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sk-dying-'));
    const sh = join(dir, 'dying-bash');
    const flag = join(dir, 'fixed');
    writeFileSync(sh, `#!/bin/sh\n[ -e ${flag} ] && exec /bin/bash "$@"\nexit 3\n`, { mode: 0o755 });
    const b = await startRunner({ shell: sh });
    try {
      await assert.rejects(b.client.exec('true'), (e: unknown) => e instanceof RunnerError && e.code === 'SHELL_UNAVAILABLE' && /exited with status 3 during startup/.test(e.message));
      assert.equal((await b.client.info()).shellState, 'failed');
      writeFileSync(flag, '');
      assert.equal((await b.client.exec('echo recovered')).output.toString(), 'recovered\n');
    } finally {
      await b.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a shell that cannot start: exec says why, files still work', async () => {
    const r = await startRunner({ shell: '/nonexistent/shell' });
    try {
      await assert.rejects(r.client.exec('true'), (e: unknown) => e instanceof RunnerError && e.code === 'SHELL_UNAVAILABLE' && /No such file/.test(e.message));
      await r.client.writeFile('/ok', 'fine');
      assert.equal((await r.client.readFileBuffer('/ok')).toString(), 'fine');
      assert.equal((await r.client.run(['echo', 'runs'])).stdout.toString(), 'runs\n');
    } finally {
      await r.stop();
    }
  });
});

describe('lifecycle', { timeout: 60_000 }, () => {
  test('SIGTERM: children get SIGTERM, the runner exits 0 and removes its socket', async () => {
    const r = await startRunner();
    try {
      await r.client.exec('sleep 100 & (trap "" TERM HUP; sleep 100) & sleep 0.1');
      const t0 = Date.now();
      const exited = new Promise<number | null>((res) => r.child.once('exit', (code) => res(code)));
      // unshare forwards nothing: signal the runner itself (the child of unshare).
      const runnerPid = Number(readFileSync(`/proc/${r.child.pid}/task/${r.child.pid}/children`, 'utf8').trim());
      process.kill(runnerPid, 'SIGTERM');
      assert.equal(await exited, 0);
      // The job that ignores SIGTERM and the shell's SIGHUP holds it up for the stop grace (2 s),
      // then gets SIGKILL.
      const took = Date.now() - t0;
      assert.ok(took > 1500 && took < 4000, `exited after ${took} ms`);
      assert.equal(existsSync(r.socketPath), false);
    } finally {
      await r.stop();
    }
  });

  test('not PID 1: a subreaper that reaps its orphans and stops its descendants', async () => {
    const r = await startRunner({ pid1: false });
    try {
      const info = await r.client.info();
      assert.equal(info.pid1, false);
      const res = await r.client.exec('(sleep 0.2 & echo $!)');
      const orphan = Number(res.output.toString());
      const stat = readFileSync(`/proc/${orphan}/stat`, 'utf8');
      assert.equal(Number(stat.slice(stat.lastIndexOf(')') + 4).split(' ')[0]), info.pid);
      await new Promise((res2) => setTimeout(res2, 500));
      assert.equal(existsSync(`/proc/${orphan}`), false, 'reaped, not a zombie');
      const bg = Number((await r.client.exec('sleep 100 & echo $!')).output.toString());
      await r.stop();
      await new Promise((res2) => setTimeout(res2, 100));
      assert.equal(existsSync(`/proc/${bg}`), false, 'descendants are stopped with the runner');
    } finally {
      await r.stop();
    }
  });
});
