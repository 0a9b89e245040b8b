// The original /v1 API end to end: the real daemon (the sandkasten binary in a child process) with
// real sandboxes, driven over HTTP exactly as the original's SDKs drive it.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startDaemon, tempDir, removeDir, type Daemon } from '../bin/testutil.js';
import { cleanupAgentRoot, sandboxSkip } from '../controllers/session-testutil.js';
import { agentRoot, NodeAgent, sessionsDir, workspacePath } from '../sandbox/index.js';
import { BUNDLED_NODE_AGENT } from '../config/index.js';

const KEY = 'v1-key';
const auth = { authorization: `Bearer ${KEY}` };
const hasPython = existsSync('/usr/bin/python3');

interface Reply {
  status: number;
  body: Record<string, unknown> & { error_code?: string; message?: string; details?: Record<string, unknown> };
}

interface SseEvent {
  event: string;
  data: Record<string, unknown>;
  at: number;
}

describe('/v1 API end to end (daemon, real sessions)', { skip: sandboxSkip, timeout: 180_000 }, () => {
  let d: Daemon;
  let dir: string;
  const v1 = (p: string) => `${d.url}/v1${p}`;
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> => {
    const r = await fetch(v1(path), {
      method,
      headers: { ...auth, ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await r.text();
    let parsed: Reply['body'];
    try {
      parsed = JSON.parse(text) as Reply['body'];
    } catch {
      throw new Error(`${method} ${path}: ${r.status} with a body that is not JSON: ${text.slice(0, 300)}`);
    }
    return { status: r.status, body: parsed };
  };
  const ok = async (method: string, path: string, body?: unknown, status = 200) => {
    const r = await call(method, path, body);
    assert.equal(r.status, status, `${method} ${path}: ${JSON.stringify(r.body)}\n${d.output().slice(-1500)}`);
    return r.body;
  };
  const fails = async (method: string, path: string, body: unknown, status: number, code: string, message?: RegExp) => {
    const r = await call(method, path, body);
    assert.equal(r.status, status, `${method} ${path} ${JSON.stringify(body)?.slice(0, 200)}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error_code, code, JSON.stringify(r.body));
    assert.equal(typeof r.body.message, 'string');
    if (message) assert.match(r.body.message!, message);
    return r.body;
  };
  const create = async (body: unknown = {}) => (await ok('POST', '/sessions', body, 201)) as { id: string; [k: string]: unknown };
  const exec = async (id: string, cmd: string, extra: Record<string, unknown> = {}) =>
    (await ok('POST', `/sessions/${id}/exec`, { cmd, ...extra })) as { exit_code: number; cwd: string; output: string; truncated: boolean; duration_ms: number };
  const sse = async (id: string, body: unknown): Promise<{ status: number; events: SseEvent[]; t0: number }> => {
    const t0 = performance.now();
    const r = await fetch(v1(`/sessions/${id}/exec/stream`), { method: 'POST', headers: auth, body: JSON.stringify(body) });
    assert.match(r.headers.get('content-type') ?? '', /^text\/event-stream/);
    const events: SseEvent[] = [];
    const reader = (r.body as ReadableStream<Uint8Array>).getReader();
    let buf = '';
    for (;;) {
      const c = await reader.read();
      if (c.done) break;
      buf += Buffer.from(c.value).toString();
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const ev = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
        const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? '{}') as Record<string, unknown>;
        events.push({ event: ev, data, at: performance.now() - t0 });
      }
    }
    return { status: r.status, events, t0 };
  };
  const idsNow = async () => ((await ok('GET', '/sessions')) as unknown as { id: string }[]).map((s) => s.id).sort();

  before(async () => {
    dir = tempDir('sk-v1-e2e-');
    d = await startDaemon({
      dir,
      config: `listen: "127.0.0.1:0"\napi_key: "${KEY}"\ndata_dir: "${join(dir, 'data')}"\nallowed_images: ["base", "absent"]\n`,
    });
  });
  after(async () => {
    if (d) {
      // Whatever a failed test left: delete it through the API, then stop the daemon.
      const left = await fetch(v1('/sessions'), { headers: auth })
        .then((r) => r.json() as Promise<{ id: string }[]>)
        .catch(() => []);
      await Promise.all(left.map((s) => fetch(v1(`/sessions/${s.id}`), { method: 'DELETE', headers: auth }).then((r) => r.text())));
      await d.stop();
      await cleanupAgentRoot(new NodeAgent({ binary: BUNDLED_NODE_AGENT, root: agentRoot(join(dir, 'data')) }));
    }
    if (dir) removeDir(dir);
  });

  test('authentication: the same bearer key; a /v1 401 has the /v1 shape, the resource API keeps its Status', async () => {
    let r = await fetch(v1('/sessions'));
    assert.equal(r.status, 401);
    assert.deepEqual(await r.json(), { error_code: 'UNAUTHORIZED', message: 'missing authorization header' });
    r = await fetch(v1('/sessions'), { method: 'POST', headers: { authorization: 'Bearer wrong' }, body: '{}' });
    assert.equal(r.status, 401);
    assert.deepEqual(await r.json(), { error_code: 'UNAUTHORIZED', message: 'invalid api key' });
    r = await fetch(`${d.url}/apis/sandkasten.dev/v1/namespaces/default/sessions`);
    assert.equal(r.status, 401);
    assert.equal(((await r.json()) as { kind: string }).kind, 'Status');
    r = await fetch(`${d.url}/healthz`);
    assert.deepEqual(await r.json(), { status: 'ok' });
  });

  test("the original README's flow: create, write hello.py, run it, info, list, destroy", async () => {
    const t0 = Date.now();
    const s = await create();
    assert.match(s.id, /^s-[a-z0-9]{10}$/);
    assert.equal(s.image, 'base');
    assert.equal(s.status, 'running');
    assert.equal(s.cwd, '/workspace');
    assert.equal(s.workspace_id, undefined);
    assert.ok(Math.abs(Date.parse(s.created_at as string) - t0) < 5000, String(s.created_at));
    // The default idle TTL (session_ttl_seconds 1800) from creation.
    assert.ok(Math.abs(Date.parse(s.expires_at as string) - (Date.parse(s.created_at as string) + 1800_000)) < 2000, String(s.expires_at));

    assert.deepEqual(await ok('POST', `/sessions/${s.id}/fs/write`, { path: 'hello.py', text: "print('Hello from sandbox!')" }), { ok: true });
    if (hasPython) {
      const r = await exec(s.id, 'python3 hello.py');
      assert.deepEqual({ ...r, duration_ms: 0 }, { exit_code: 0, cwd: '/workspace', output: 'Hello from sandbox!\n', truncated: false, duration_ms: 0 });
    }
    assert.equal((await exec(s.id, 'cat /workspace/hello.py')).output, "print('Hello from sandbox!')");
    const info = await ok('GET', `/sessions/${s.id}`);
    assert.deepEqual({ ...info, expires_at: '' }, { ...s, expires_at: '' });
    assert.ok((await idsNow()).includes(s.id));

    const uidDirs = readdirSync(sessionsDir(join(dir, 'data'))).length;
    assert.deepEqual(await ok('DELETE', `/sessions/${s.id}`), { ok: true });
    // Answered after the sandbox is gone: its directory is removed already.
    assert.equal(readdirSync(sessionsDir(join(dir, 'data'))).length, uidDirs - 1);
    await fails('GET', `/sessions/${s.id}`, undefined, 404, 'SESSION_NOT_FOUND');
    assert.ok(!(await idsNow()).includes(s.id));
  });

  describe('one session', () => {
    let id: string;
    before(async () => {
      id = (await create({ image: 'base', ttl_seconds: 600 })).id;
    });
    after(async () => {
      if (id) await call('DELETE', `/sessions/${id}`);
    });

    test('cd and export persist across exec calls; the session reports the cwd', async () => {
      let r = await exec(id, 'cd /tmp && export X=42 && Y=local');
      assert.equal(r.exit_code, 0);
      assert.equal(r.cwd, '/tmp');
      r = await exec(id, 'echo $X $Y; pwd; false');
      assert.equal(r.output, '42 local\n/tmp\n');
      assert.equal(r.exit_code, 1);
      assert.equal((await ok('GET', `/sessions/${id}`)).cwd, '/tmp');
      await exec(id, 'cd /workspace');
    });

    test('output is cleaned (escapes, CRLF) unless raw_output', async () => {
      const cmd = "printf '\\033[1;31mred\\033[0m\\r\\nline2\\r\\n'";
      assert.equal((await exec(id, cmd)).output, 'red\nline2\n');
      assert.equal((await exec(id, cmd, { raw_output: true })).output, '\x1b[1;31mred\x1b[0m\r\nline2\r\n');
    });

    test('exec/stream: chunks arrive as the command writes them, then done', async () => {
      const { status, events } = await sse(id, { cmd: "echo first; sleep 1; printf 'second\\r\\n'" });
      assert.equal(status, 200);
      const chunks = events.filter((e) => e.event === 'chunk');
      const done = events.at(-1)!;
      assert.equal(done.event, 'done', JSON.stringify(events));
      assert.deepEqual(Object.keys(done.data).sort(), ['cwd', 'duration_ms', 'exit_code']);
      assert.equal(done.data.exit_code, 0);
      assert.equal(chunks.map((c) => c.data.chunk).join(''), 'first\nsecond\n');
      // The first chunk came while the command was still running (a second before its end).
      assert.ok(chunks[0]!.at < done.at - 700, `first chunk at ${chunks[0]!.at.toFixed(0)} ms, done at ${done.at.toFixed(0)} ms`);
      assert.equal(chunks[0]!.data.chunk, 'first\n');
      assert.ok(Math.abs((chunks[0]!.data.timestamp as number) - Date.now()) < 10_000);
      // A stream that times out ends with an error event; the shell goes on.
      const t = await sse(id, { cmd: 'echo partial; sleep 10', timeout_ms: 400 });
      const last = t.events.at(-1)!;
      assert.equal(last.event, 'error', JSON.stringify(t.events));
      assert.equal(last.data.error_code, 'COMMAND_TIMEOUT');
      assert.match(last.data.error as string, /timed out after 400 ms/);
      assert.equal(t.events[0]!.data.chunk, 'partial\n');
      assert.equal((await exec(id, 'echo alive')).output, 'alive\n');
    });

    test('a command past its timeout: 504 COMMAND_TIMEOUT with its partial output; the shell survives with its state', async () => {
      await exec(id, 'export KEEP=kept');
      const t0 = performance.now();
      const b = await fails('POST', `/sessions/${id}/exec`, { cmd: 'echo before; sleep 30; echo after', timeout_ms: 500 }, 504, 'COMMAND_TIMEOUT', /timed out after 500 ms/);
      assert.ok(performance.now() - t0 < 5000);
      assert.match(b.details!.output as string, /^before\n/);
      assert.equal(b.details!.timeout_ms, 500);
      assert.ok([130, 137].includes(b.details!.exit_code as number), String(b.details!.exit_code));
      const r = await exec(id, 'echo $KEEP');
      assert.equal(r.output, 'kept\n');
    });

    test('execs sent together run one after the other, as in the original', async () => {
      const [a, b] = await Promise.all([exec(id, 'sleep 0.3; echo one'), exec(id, 'echo two')]);
      assert.equal(a.output, 'one\n');
      assert.equal(b.output, 'two\n');
    });

    test('fs: binary round trip through base64, max_bytes truncation, paths under /workspace', async () => {
      const data = randomBytes(200_000);
      assert.deepEqual(await ok('POST', `/sessions/${id}/fs/write`, { path: 'bin/blob.bin', content_base64: data.toString('base64') }), { ok: true });
      assert.equal((await exec(id, 'wc -c < /workspace/bin/blob.bin')).output.trim(), String(data.length));
      let r = await ok('GET', `/sessions/${id}/fs/read?path=/workspace/bin/blob.bin`);
      assert.equal(r.path, '/workspace/bin/blob.bin');
      assert.equal(r.truncated, false);
      assert.deepEqual(Buffer.from(r.content_base64 as string, 'base64'), data);
      r = await ok('GET', `/sessions/${id}/fs/read?path=bin/blob.bin&max_bytes=1000`);
      assert.equal(r.truncated, true);
      assert.deepEqual(Buffer.from(r.content_base64 as string, 'base64'), data.subarray(0, 1000));
      r = await ok('GET', `/sessions/${id}/fs/read?path=bin/blob.bin&max_bytes=${data.length}`);
      assert.equal(r.truncated, false);
      // Empty files, and reads anywhere in the sandbox (its own /etc, not the host's).
      await ok('POST', `/sessions/${id}/fs/write`, { path: '/workspace/empty', text: '' });
      assert.deepEqual(await ok('GET', `/sessions/${id}/fs/read?path=empty`), { path: 'empty', content_base64: '', truncated: false });
      r = await ok('GET', `/sessions/${id}/fs/read?path=/etc/passwd`);
      assert.equal(Buffer.from(r.content_base64 as string, 'base64').toString(), (await exec(id, 'cat /etc/passwd')).output);
      await fails('POST', `/sessions/${id}/fs/write`, { path: '/etc/x', text: 'x' }, 400, 'INVALID_REQUEST', /under \/workspace/);
      await fails('POST', `/sessions/${id}/fs/write`, { path: '../etc/x', text: 'x' }, 400, 'INVALID_REQUEST', /under \/workspace/);
      await fails('POST', `/sessions/${id}/fs/write`, { path: 'a', text: 'x', content_base64: 'eA==' }, 400, 'INVALID_REQUEST', /not both/);
      await fails('POST', `/sessions/${id}/fs/write`, { path: 'a' }, 400, 'INVALID_REQUEST', /must be provided/);
      await fails('POST', `/sessions/${id}/fs/write`, { path: 'a', content_base64: '@@@' }, 400, 'INVALID_REQUEST', /base64/);
      await fails('GET', `/sessions/${id}/fs/read?path=/workspace/nope`, undefined, 404, 'FILE_NOT_FOUND');
      await fails('GET', `/sessions/${id}/fs/read?path=/workspace`, undefined, 400, 'INVALID_REQUEST');
      await fails('GET', `/sessions/${id}/fs/read`, undefined, 400, 'INVALID_REQUEST', /path is required/);
      await fails('GET', `/sessions/${id}/fs/read?path=x&max_bytes=-1`, undefined, 400, 'INVALID_REQUEST', /max_bytes/);
      await fails('GET', `/sessions/${id}/fs/read?path=x&max_bytes=104857601`, undefined, 400, 'INVALID_REQUEST', /max_bytes/);
    });

    test('fs/upload: two files in one multipart form, streamed into place (the path field may come last)', async () => {
      const form = new FormData();
      const big = randomBytes(3 * 1024 * 1024);
      form.append('file', new Blob([Buffer.from('alpha\n')]), 'a.txt');
      form.append('files', new Blob([big]), 'dir\\big.bin');
      form.append('path', 'uploads/');
      const r = await fetch(v1(`/sessions/${id}/fs/upload`), { method: 'POST', headers: auth, body: form });
      const b = (await r.json()) as { ok: boolean; paths: string[] };
      assert.equal(r.status, 200, JSON.stringify(b));
      assert.deepEqual(b, { ok: true, paths: ['/workspace/uploads/a.txt', '/workspace/uploads/big.bin'] });
      assert.equal((await exec(id, 'cat /workspace/uploads/a.txt; wc -c < /workspace/uploads/big.bin')).output, `alpha\n${big.length}\n`);
      const back = await ok('GET', `/sessions/${id}/fs/read?path=uploads/big.bin`);
      assert.ok(Buffer.from(back.content_base64 as string, 'base64').equals(big));
      // The staging directory is gone.
      assert.doesNotMatch((await exec(id, 'ls -A /workspace')).output, /sandkasten-upload/);

      // Without a path: into /workspace. Without files, outside /workspace, not multipart: 400.
      const one = new FormData();
      one.append('file', new Blob(['x']), 'top.txt');
      let res = await fetch(v1(`/sessions/${id}/fs/upload`), { method: 'POST', headers: auth, body: one });
      assert.deepEqual(await res.json(), { ok: true, paths: ['/workspace/top.txt'] });
      const none = new FormData();
      none.append('path', 'x');
      res = await fetch(v1(`/sessions/${id}/fs/upload`), { method: 'POST', headers: auth, body: none });
      assert.equal(res.status, 400);
      assert.match(((await res.json()) as { message: string }).message, /no file provided/);
      const outside = new FormData();
      outside.append('path', '/etc');
      outside.append('file', new Blob(['x']), 'evil');
      res = await fetch(v1(`/sessions/${id}/fs/upload`), { method: 'POST', headers: auth, body: outside });
      assert.equal(res.status, 400);
      assert.equal(((await res.json()) as { error_code: string }).error_code, 'INVALID_REQUEST');
      assert.equal((await exec(id, 'test -e /etc/evil && echo there || echo absent')).output, 'absent\n');
      res = await fetch(v1(`/sessions/${id}/fs/upload`), { method: 'POST', headers: { ...auth, 'content-type': 'text/plain' }, body: 'x' });
      assert.equal(res.status, 400);
      assert.doesNotMatch((await exec(id, 'ls -A /workspace')).output, /sandkasten-upload/);
    });

    test('stats: memory use and limit, cpu time, from the cgroup', async () => {
      await exec(id, 'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done');
      const s = await ok('GET', `/sessions/${id}/stats`);
      assert.deepEqual(Object.keys(s).sort(), ['cpu_usage_usec', 'memory_bytes', 'memory_limit']);
      assert.equal(s.memory_limit, 512 * 1024 * 1024);
      assert.ok((s.memory_bytes as number) > 0);
      assert.ok((s.cpu_usage_usec as number) > 1000, String(s.cpu_usage_usec));
      assert.ok(Number.isInteger(s.cpu_usage_usec));
    });
  });

  test('malformed requests: 400 INVALID_REQUEST naming the problem, never a 500', async () => {
    await fails('POST', '/sessions', '{bad', 400, 'INVALID_REQUEST', /invalid json/);
    await fails('POST', '/sessions', '[1]', 400, 'INVALID_REQUEST', /JSON object/);
    await fails('POST', '/sessions', { ttl_seconds: -1 }, 400, 'INVALID_REQUEST', /ttl_seconds/);
    await fails('POST', '/sessions', { ttl_seconds: 86401 }, 400, 'INVALID_REQUEST', /ttl_seconds/);
    await fails('POST', '/sessions', { ttl_seconds: 1.5 }, 400, 'INVALID_REQUEST', /ttl_seconds/);
    await fails('POST', '/sessions', { ttl_seconds: '60' }, 400, 'INVALID_REQUEST', /ttl_seconds/);
    await fails('POST', '/sessions', { image: 7 }, 400, 'INVALID_REQUEST', /image/);
    for (const ws of ['a', 'A-b', '-ab', 'ab-', 'a_b', 'x'.repeat(65), '../etc']) {
      await fails('POST', '/sessions', { workspace_id: ws }, 400, 'INVALID_REQUEST', /workspace_id/);
    }
    // Bodies over 2 MiB, with and without Content-Length.
    await fails('POST', '/sessions', JSON.stringify({ image: 'base', pad: 'x'.repeat(2 * 1024 * 1024) }), 400, 'INVALID_REQUEST', /too large/);
    const chunked = new ReadableStream({
      start(c) {
        for (let i = 0; i < 5; i++) c.enqueue(Buffer.alloc(1024 * 1024, 0x20));
        c.close();
      },
    });
    const r = await fetch(v1('/sessions/s-none/exec'), { method: 'POST', headers: auth, body: chunked, duplex: 'half' } as RequestInit);
    assert.equal(r.status, 400);
    assert.equal(((await r.json()) as { error_code: string }).error_code, 'INVALID_REQUEST');
    // Exec fields (checked before the session is looked up).
    await fails('POST', '/sessions/s-none/exec', {}, 400, 'INVALID_REQUEST', /cmd is required/);
    await fails('POST', '/sessions/s-none/exec', { cmd: 5 }, 400, 'INVALID_REQUEST', /cmd/);
    await fails('POST', '/sessions/s-none/exec', { cmd: 'x'.repeat(1024 * 1024 + 1) }, 400, 'INVALID_REQUEST', /cmd is too large/);
    await fails('POST', '/sessions/s-none/exec', { cmd: 'true', timeout_ms: 600_001 }, 400, 'INVALID_REQUEST', /timeout_ms/);
    await fails('POST', '/sessions/s-none/exec', { cmd: 'true', timeout_ms: -5 }, 400, 'INVALID_REQUEST', /timeout_ms/);
    await fails('POST', '/sessions/s-none/exec', { cmd: 'true', raw_output: 'yes' }, 400, 'INVALID_REQUEST', /raw_output/);
    await fails('POST', '/sessions/s-none/exec/stream', '', 400, 'INVALID_REQUEST');
    await fails('POST', '/sessions/Bad_Id/exec', { cmd: 'true' }, 400, 'INVALID_REQUEST', /session id/);
    await fails('DELETE', '/workspaces/Not_Valid', undefined, 400, 'INVALID_REQUEST', /workspace id/);
    await fails('PUT', '/sessions', {}, 405, 'METHOD_NOT_ALLOWED');
    await fails('GET', '/nothing-here', undefined, 404, 'NOT_FOUND');
  });

  test('unknown ids: 404 SESSION_NOT_FOUND on every session call', async () => {
    await fails('GET', '/sessions/s-doesnotexist', undefined, 404, 'SESSION_NOT_FOUND', /s-doesnotexist/);
    await fails('DELETE', '/sessions/s-doesnotexist', undefined, 404, 'SESSION_NOT_FOUND');
    await fails('POST', '/sessions/s-doesnotexist/exec', { cmd: 'true' }, 404, 'SESSION_NOT_FOUND');
    await fails('POST', '/sessions/s-doesnotexist/exec/stream', { cmd: 'true' }, 404, 'SESSION_NOT_FOUND');
    await fails('POST', '/sessions/s-doesnotexist/fs/write', { path: 'a', text: '' }, 404, 'SESSION_NOT_FOUND');
    await fails('GET', '/sessions/s-doesnotexist/fs/read?path=a', undefined, 404, 'SESSION_NOT_FOUND');
    await fails('GET', '/sessions/s-doesnotexist/stats', undefined, 404, 'SESSION_NOT_FOUND');
  });

  test('images: unknown or not allowed → 400 INVALID_IMAGE, and no session is left behind', async () => {
    const before = await idsNow();
    await fails('POST', '/sessions', { image: 'absent' }, 400, 'INVALID_IMAGE', /image not found: absent/);
    await fails('POST', '/sessions', { image: 'python' }, 400, 'INVALID_IMAGE', /not allowed/);
    await fails('POST', '/sessions', { image: 'Not/An/Image' }, 400, 'INVALID_IMAGE');
    assert.deepEqual(await idsNow(), before);
  });

  test('an expired session: 410 SESSION_EXPIRED (also after the reaper removed it); DELETE is then a no-op', async () => {
    const { id } = await create({ ttl_seconds: 1 });
    const end = Date.now() + 20_000;
    let r: Reply;
    for (;;) {
      r = await call('GET', `/sessions/${id}`);
      if (r.status !== 200 || Date.now() > end) break;
      await new Promise((x) => setTimeout(x, 100));
    }
    assert.equal(r.status, 410, JSON.stringify(r.body));
    assert.equal(r.body.error_code, 'SESSION_EXPIRED');
    await fails('POST', `/sessions/${id}/exec`, { cmd: 'true' }, 410, 'SESSION_EXPIRED');
    // Once the object is gone too, the Expired Event still answers for it.
    const gone = Date.now() + 20_000;
    while ((await idsNow()).includes(id) && Date.now() < gone) await new Promise((x) => setTimeout(x, 100));
    assert.ok(!(await idsNow()).includes(id));
    await fails('GET', `/sessions/${id}/fs/read?path=x`, undefined, 410, 'SESSION_EXPIRED');
    await fails('GET', `/sessions/${id}`, undefined, 410, 'SESSION_EXPIRED');
    assert.deepEqual(await ok('DELETE', `/sessions/${id}`), { ok: true });
  });

  test("workspaces: a workspace_id's data survives its session and is seen by the next; deleting it removes the data", async () => {
    const ws = `proj-${randomBytes(3).toString('hex')}`;
    const a = await create({ workspace_id: ws });
    assert.equal(a.workspace_id, ws);
    await ok('POST', `/sessions/${a.id}/fs/write`, { path: 'notes.txt', text: 'kept across sessions\n' });
    await exec(a.id, 'mkdir -p /workspace/src && echo code > /workspace/src/main.txt');
    await ok('DELETE', `/sessions/${a.id}`);

    const list = (await ok('GET', '/workspaces')) as { workspaces: { id: string; size_bytes: number; created_at: string; sessions: string[] }[] };
    const entry = list.workspaces.find((w) => w.id === ws);
    assert.ok(entry, JSON.stringify(list));
    assert.ok(Date.parse(entry.created_at) > 0);
    assert.equal(typeof entry.size_bytes, 'number');

    const b = await create({ workspace_id: ws });
    assert.equal((await exec(b.id, 'cat /workspace/notes.txt /workspace/src/main.txt')).output, 'kept across sessions\ncode\n');
    const busy = await fails('DELETE', `/workspaces/${ws}`, undefined, 409, 'WORKSPACE_IN_USE', new RegExp(b.id));
    assert.deepEqual(busy.details, { sessions: [b.id] });
    await ok('DELETE', `/sessions/${b.id}`);

    const host = workspacePath(join(dir, 'data'), 'default', ws);
    assert.ok(existsSync(host));
    assert.deepEqual(await ok('DELETE', `/workspaces/${ws}`), { ok: true });
    assert.equal(existsSync(host), false);
    assert.ok(!((await ok('GET', '/workspaces')) as { workspaces: { id: string }[] }).workspaces.some((w) => w.id === ws));
    await fails('DELETE', `/workspaces/${ws}`, undefined, 404, 'WORKSPACE_NOT_FOUND');
    // A fresh workspace of the same name starts empty.
    const c = await create({ workspace_id: ws });
    assert.equal((await exec(c.id, 'ls -A /workspace | wc -l')).output.trim(), '0');
    await ok('DELETE', `/sessions/${c.id}`);
    await ok('DELETE', `/workspaces/${ws}`);
  });
});

describe('/v1 API with workspace.persist_by_default (daemon, real sessions)', { skip: sandboxSkip, timeout: 120_000 }, () => {
  let d: Daemon;
  let dir: string;
  const call = (method: string, path: string, body?: unknown) =>
    fetch(`${d.url}/v1${path}`, { method, headers: auth, body: body === undefined ? undefined : JSON.stringify(body) }).then(async (r) => ({
      status: r.status,
      body: (await r.json()) as Record<string, unknown>,
    }));

  before(async () => {
    dir = tempDir('sk-v1-persist-');
    d = await startDaemon({ dir, config: `listen: "127.0.0.1:0"\napi_key: "${KEY}"\ndata_dir: "${join(dir, 'data')}"\nworkspace:\n  persist_by_default: true\n` });
  });
  after(async () => {
    if (d) {
      await d.stop();
      await cleanupAgentRoot(new NodeAgent({ binary: BUNDLED_NODE_AGENT, root: agentRoot(join(dir, 'data')) }));
    }
    if (dir) removeDir(dir);
  });

  test('a session without workspace_id gets a persistent ws-<id> that outlives it', async () => {
    const c = await call('POST', '/sessions', {});
    assert.equal(c.status, 201, JSON.stringify(c.body));
    const id = c.body.id as string;
    assert.equal(c.body.workspace_id, `ws-${id}`);
    let r = await call('POST', `/sessions/${id}/fs/write`, { path: 'keep.txt', text: 'persisted' });
    assert.equal(r.status, 200);
    r = await call('DELETE', `/sessions/${id}`);
    assert.deepEqual(r.body, { ok: true });
    const host = workspacePath(join(dir, 'data'), 'default', `ws-${id}`);
    assert.ok(existsSync(join(host, 'keep.txt')));
    r = await call('GET', '/workspaces');
    assert.ok((r.body.workspaces as { id: string }[]).some((w) => w.id === `ws-${id}`));
    // It can be mounted again by name.
    const again = await call('POST', '/sessions', { workspace_id: `ws-${id}` });
    assert.equal(again.status, 201, JSON.stringify(again.body));
    r = await call('POST', `/sessions/${again.body.id as string}/exec`, { cmd: 'cat /workspace/keep.txt' });
    assert.equal(r.body.output, 'persisted');
    await call('DELETE', `/sessions/${again.body.id as string}`);
    r = await call('DELETE', `/workspaces/ws-${id}`);
    assert.deepEqual(r.body, { ok: true });
    assert.equal(existsSync(host), false);
  });
});
