// skctl tui end to end: the real binary in an 80×24 tmux pane, driven with send-keys and read with
// capture-pane, against the real daemon running real sandboxes. A session applied by the test
// appears and turns Ready with CPU and memory; x runs a command whose output streams in; Enter
// shows conditions and events; s opens a shell (and exit or Ctrl-] comes back); the filters;
// the watch carries on across a daemon restart; D + y deletes; q quits; no TTY is a clear error.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { NotFoundError, SandboxClient } from '@sandkasten/client';
import { removeDir, startDaemon, tempDir, type Daemon } from '@sandkasten/controller/dist/bin/testutil.js';
import { BIN } from '../testutil.js';
import { NO_TTY } from './index.js';
import { TmuxHarness, type Launched } from './tmux-testutil.js';

const harness = new TmuxHarness('skctl-tui-test');
const { tmux, screen, keys, type, waitFor } = harness;
const HEADER = /^NAME +NAMESPACE +PHASE +IMAGE +AGE +CPU +MEMORY *$/m;

let dir: string;
let daemon: Daemon;
let client: SandboxClient;

/** The table rows (between the header and the message line) that name a session. */
function rowOf(s: string, name: string): string | undefined {
  return s.split('\n').find((l) => l.startsWith(`${name} `));
}

/** Starts the TUI in a fresh pane of 80×24; its exit code lands in a file. */
function launch(args: string[] = [], stdoutToFile = false): Launched {
  return harness.launch({ dir, server: daemon.url, args, stdoutToFile });
}

function sessionManifest(name: string, namespace = 'default', labels: Record<string, string> = {}) {
  return { apiVersion: 'sandkasten.dev/v1' as const, kind: 'Session' as const, metadata: { name, namespace, labels }, spec: { image: 'base' } };
}

let tui: Launched;

before(async () => {
  dir = tempDir('skctl-tui-');
  mkdirSync(join(dir, 'config'));
  daemon = await startDaemon({ dir });
  client = new SandboxClient({ baseUrl: daemon.url, apiKey: 'test-key' });
});

after(async () => {
  harness.kill();
  try {
    for (const ns of ['default', 'tui-other']) {
      for (const s of (await client.list('sessions', { namespace: ns })).items) {
        await client.delete('sessions', s.metadata.name!, { namespace: ns });
        await client.waitForDeletion('sessions', s.metadata.name!, { namespace: ns, timeoutMs: 30_000 });
      }
    }
  } finally {
    client.close();
    await daemon.stop();
    removeDir(dir);
  }
});

test('without a terminal: a clear error and exit 1', async () => {
  const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [BIN, 'tui'], {
      env: { ...process.env, HOME: dir, XDG_CONFIG_HOME: join(dir, 'config'), SANDKASTEN_SERVER: daemon.url },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('close', (code) => resolve({ code, stderr }));
    child.stdin.end();
  });
  assert.equal(r.code, 1);
  assert.equal(r.stderr, `error: ${NO_TTY}\n`);

  // A terminal on stdin but stdout into a file is no terminal either.
  const piped = launch([], true);
  await waitFor(() => piped.exitCode() !== undefined, 'the piped run to end');
  assert.equal(piped.exitCode(), '1');
  assert.match(screen(), /skctl tui needs an interactive terminal \(stdin and stdout must be a TTY\)/);
});

test('a session applied meanwhile appears, turns Ready, and gets CPU and memory', async () => {
  tui = launch();
  await waitFor(/no sessions in namespace default/, 'the empty table');
  assert.match(screen(), HEADER);
  await client.apply(sessionManifest('tui-a'));
  await waitFor((s) => /^tui-a +default +(Pending|Starting|Ready) +base +\d+s/m.test(s), 'tui-a in the table');
  await waitFor(/^tui-a +default +Ready +base /m, 'tui-a Ready');
  const s = await waitFor(/^tui-a +default +Ready +base +\d+s +\d+m +\d+(\.\d)?[KMG]i *$/m, 'CPU and MEMORY of tui-a');
  assert.match(s.split('\n')[0]!, /^ Sandkasten +sessions +ns: default .* 1 · ● live *$/);
  assert.match(s, /⏎ details +x exec +s shell +D del/);
  for (const line of s.split('\n')) assert.ok(line.length <= 80, line);
});

test('x runs a command: the output streams in, the exit code comes at the end', async () => {
  keys('x');
  await waitFor(/exec default\/tui-a/, 'the exec view');
  type('echo hello-tui');
  keys('Enter');
  await waitFor((s) => /^hello-tui *$/m.test(s) && /^exit code 0 · /m.test(s), 'hello-tui and exit code 0');

  // Streams: the first line shows while the command still runs.
  type('for i in 1 2 3; do echo step-$i; sleep 1; done');
  keys('Enter');
  let s = await waitFor(/^step-1 *$/m, 'the first line of a running command');
  assert.doesNotMatch(s, /^step-3/m);
  assert.match(s, /running…/);
  s = await waitFor(/^step-3 *\nexit code 0/m, 'the end of the command');

  type('sh -c "exit 3"');
  keys('Enter');
  await waitFor(/^exit code 3 · /m, 'exit code 3');
  keys('Escape');
  await waitFor(HEADER, 'the table again');
});

test('Enter shows the details: spec, conditions and the controller\'s events', async () => {
  keys('Enter');
  const s = await waitFor(/^Conditions/m, 'the conditions');
  assert.match(s, /details default\/tui-a/);
  assert.match(s, /^Session: +default\/tui-a +Ready *$/m);
  assert.match(s, /^Spec: +image base · /m);
  assert.match(s, /^ {2}TYPE +STATUS +REASON +AGE +MESSAGE *$/m);
  assert.match(s, /^ {2}Ready +True +RunnerReady /m);
  await waitFor((x) => /^ {2}TYPE +REASON +AGE +FROM +MESSAGE *$/m.test(x) && /^ {2}Normal +Started +\d+s +\S+ +sandbox /m.test(x), 'the events table');
  keys('Escape');
  await waitFor(HEADER, 'the table again');
});

test('s opens a shell on the whole terminal; exit and Ctrl-] come back to the table', async () => {
  keys('s');
  await waitFor((s) => /attaching to session default\/tui-a/.test(s) && /# *$/m.test(s), 'a shell prompt');
  type('echo $((6*7))');
  keys('Enter');
  await waitFor(/^42 *$/m, '42');
  tmux('resize-window', '-t', harness.pane, '-x', '100', '-y', '30');
  type('stty size');
  keys('Enter');
  await waitFor(/^30 100 *$/m, 'the new window size in the sandbox');
  tmux('resize-window', '-t', harness.pane, '-x', '80', '-y', '24');
  type('exit');
  keys('Enter');
  let s = await waitFor((x) => HEADER.test(x) && /shell in default\/tui-a exited with code 0/.test(x), 'the table after exit');
  assert.match(s, /^tui-a +default +Ready /m);

  keys('s');
  await waitFor((x) => /# *$/m.test(x) && !HEADER.test(x), 'a second shell');
  keys('C-]');
  s = await waitFor((x) => HEADER.test(x) && /detached from default\/tui-a/.test(x), 'the table after Ctrl-]');
});

test('filters: all namespaces, a label selector, a name; the namespace', async () => {
  await client.apply(sessionManifest('tui-b', 'tui-other', { team: 'b' }));
  await client.waitFor('sessions', 'tui-b', { namespace: 'tui-other', condition: 'Ready', timeoutMs: 60_000 });
  assert.equal(rowOf(screen(), 'tui-b'), undefined, 'another namespace is not shown');
  keys('A');
  await waitFor((s) => /ns: all/.test(s) && rowOf(s, 'tui-a') !== undefined && rowOf(s, 'tui-b') !== undefined, 'both namespaces');
  keys('l');
  type('team=b');
  keys('Enter');
  await waitFor((s) => /-l team=b/.test(s) && rowOf(s, 'tui-a') === undefined && rowOf(s, 'tui-b') !== undefined, 'only team=b');
  keys('l', 'C-u', 'Enter');
  await waitFor((s) => rowOf(s, 'tui-a') !== undefined && rowOf(s, 'tui-b') !== undefined, 'the selector cleared');
  keys('/');
  type('-b');
  await waitFor((s) => rowOf(s, 'tui-a') === undefined && /1\/2 · /.test(s), 'filtered by name as typed');
  keys('Escape');
  await waitFor((s) => rowOf(s, 'tui-a') !== undefined && rowOf(s, 'tui-b') !== undefined, 'Esc takes the name filter back');
  keys('n', 'C-u');
  type('default');
  keys('Enter');
  await waitFor((s) => /ns: default/.test(s) && rowOf(s, 'tui-a') !== undefined && rowOf(s, 'tui-b') === undefined, 'namespace default again');
});

test('a daemon restart: the TUI says the connection is lost, then the watch carries on', async () => {
  const port = daemon.port;
  await daemon.stop();
  await waitFor(/○ offline/, 'the offline mark', 30_000);
  assert.match(screen(), /connection lost/);
  daemon = await startDaemon({ dir, config: `listen: "127.0.0.1:${port}"\napi_key: "test-key"\ndata_dir: "${join(dir, 'data')}"\n` });
  await waitFor(/● live/, 'live again', 30_000);
  await client.apply(sessionManifest('tui-c'));
  await waitFor(/^tui-c +default +Ready /m, 'a session made after the restart');
});

test('Del or D asks y/N: n keeps the session, y deletes it', async () => {
  keys('Home');
  keys('DC');
  await waitFor(/Delete session default\/tui-a\? \(y\/N\)/, 'the question');
  keys('n');
  await waitFor(/delete cancelled/, 'cancelled');
  assert.notEqual(rowOf(screen(), 'tui-a'), undefined);
  keys('D');
  await waitFor(/Delete session default\/tui-a\? \(y\/N\)/, 'the question again');
  keys('y');
  await waitFor((s) => rowOf(s, 'tui-a') === undefined && rowOf(s, 'tui-c') !== undefined, 'tui-a gone from the table', 30_000);
  await assert.rejects(client.get('sessions', 'tui-a'), NotFoundError);
});

test('q quits with exit code 0', async () => {
  keys('q');
  await waitFor(() => tui.exitCode() !== undefined, 'the TUI to end');
  assert.equal(tui.exitCode(), '0');
});
