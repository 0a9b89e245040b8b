// …/fs over HTTP against a real runner whose file operations resolve in a temp root: binary round
// trips, ranges, listings, stat, mkdir/rename/delete, paths that try to leave the root, limits,
// and 100 MiB streamed both ways with the server's memory staying flat.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { API_KEY, isRoot, json, startHarness, type Harness } from './testutil.js';

describe('fs subresource', { skip: !isRoot && 'needs root (the runner runs in its own namespaces)', timeout: 120_000 }, () => {
  let h: Harness;
  let root: string;
  const fs = (query: Record<string, string>) => h.sub('s', 'fs', query);
  before(async () => {
    h = await startHarness({ config: { max_upload_bytes: 256 * 1024 * 1024 } });
    root = h.runner.fsRoot;
    await h.session('s');
  });
  after(() => h?.close());

  test('binary round trip: PUT raw bytes, GET them back exactly', async () => {
    const data = randomBytes(1024 * 1024);
    data[0] = 0xff; // not UTF-8
    let r = await h.fetch(fs({ path: '/data/sub/blob.bin' }), { method: 'PUT', body: data });
    assert.equal(r.status, 200);
    assert.deepEqual(await json(r), { path: '/data/sub/blob.bin', bytes: data.length });
    assert.deepEqual(readFileSync(join(root, 'data/sub/blob.bin')), data, 'parents were created');
    r = await h.fetch(fs({ path: '/data/sub/blob.bin' }));
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'application/octet-stream');
    assert.equal(r.headers.get('content-length'), String(data.length));
    assert.equal(r.headers.get('accept-ranges'), 'bytes');
    assert.ok(r.headers.get('last-modified'));
    assert.deepEqual(Buffer.from(await r.arrayBuffer()), data);
    // HEAD: the same headers, no body.
    r = await h.fetch(fs({ path: '/data/sub/blob.bin' }), { method: 'HEAD' });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-length'), String(data.length));
    assert.equal((await r.arrayBuffer()).byteLength, 0);
  });

  test('Range: 206 with Content-Range, suffix and open ranges, 416 when unsatisfiable', async () => {
    const data = Buffer.from('0123456789abcdefghij');
    await h.fetch(fs({ path: '/r.txt' }), { method: 'PUT', body: data });
    const get = (range: string) => h.fetch(fs({ path: '/r.txt' }), { headers: { range } });
    let r = await get('bytes=2-5');
    assert.equal(r.status, 206);
    assert.equal(r.headers.get('content-range'), 'bytes 2-5/20');
    assert.equal(r.headers.get('content-length'), '4');
    assert.equal(await r.text(), '2345');
    r = await get('bytes=15-');
    assert.equal(r.status, 206);
    assert.equal(await r.text(), 'fghij');
    r = await get('bytes=-3');
    assert.equal(r.status, 206);
    assert.equal(r.headers.get('content-range'), 'bytes 17-19/20');
    assert.equal(await r.text(), 'hij');
    r = await get('bytes=18-100');
    assert.equal(r.status, 206);
    assert.equal(r.headers.get('content-range'), 'bytes 18-19/20');
    assert.equal(await r.text(), 'ij');
    r = await get('bytes=20-');
    assert.equal(r.status, 416);
    assert.equal(r.headers.get('content-range'), 'bytes */20');
    assert.equal((await json(r)).reason, 'RequestedRangeNotSatisfiable');
    r = await get('bytes=-0');
    assert.equal(r.status, 416);
    await r.text();
    // Several ranges or nonsense: the whole file (RFC 9110 lets a server ignore Range).
    for (const range of ['bytes=0-1,4-5', 'items=1-2', 'bytes=5-2']) {
      r = await get(range);
      assert.equal(r.status, 200, range);
      assert.equal(await r.text(), data.toString());
    }
    // If-Range with another date: the whole file.
    r = await h.fetch(fs({ path: '/r.txt' }), { headers: { range: 'bytes=0-1', 'if-range': 'Mon, 01 Jan 2001 00:00:00 GMT' } });
    assert.equal(r.status, 200);
    await r.text();
    const lm = (await h.fetch(fs({ path: '/r.txt' }), { method: 'HEAD' })).headers.get('last-modified')!;
    r = await h.fetch(fs({ path: '/r.txt' }), { headers: { range: 'bytes=0-1', 'if-range': lm } });
    assert.equal(r.status, 206);
    assert.equal(await r.text(), '01');
  });

  test('directories: GET lists (or ?list=1), ?stat=1 describes, mkdir, rename, delete', async () => {
    let r = await h.fetch(fs({ path: '/tree/a/b', op: 'mkdir', mode: '0750' }), { method: 'POST' });
    assert.equal(r.status, 201);
    assert.deepEqual(await json(r), { path: '/tree/a/b', created: true });
    assert.equal(statSync(join(root, 'tree/a/b')).mode & 0o777, 0o750);
    r = await h.fetch(fs({ path: '/tree/a/b', op: 'mkdir' }), { method: 'POST' });
    assert.equal(r.status, 200, 'existing is fine');
    assert.equal((await json(r)).created, false);
    await h.fetch(fs({ path: '/tree/f.txt', mode: '0600' }), { method: 'PUT', body: 'hello' });
    symlinkSync('f.txt', join(root, 'tree/link'));

    r = await h.fetch(fs({ path: '/tree' }));
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
    const listing = await json(r);
    assert.equal(listing.path, '/tree');
    assert.deepEqual(listing.entries.map((e: { name: string; type: string }) => `${e.name}:${e.type}`), ['a:dir', 'f.txt:file', 'link:symlink']);
    const f = listing.entries[1];
    assert.equal(f.size, 5);
    assert.equal(f.mode, 0o600);
    assert.match(f.mtime, /^\d{4}-\d\d-\d\dT/);
    assert.equal(listing.entries[2].target, 'f.txt');
    assert.deepEqual((await json(await h.fetch(fs({ path: '/tree', list: '1' })))).entries.length, 3);

    const st = await json(await h.fetch(fs({ path: '/tree/link', stat: '1' })));
    assert.equal(st.type, 'symlink', 'stat does not follow the last symlink');
    assert.equal(st.target, 'f.txt');
    assert.equal(await (await h.fetch(fs({ path: '/tree/link' }))).text(), 'hello', 'read follows it');

    r = await h.fetch(fs({ path: '/tree/f.txt', op: 'rename', to: '/tree/moved/g.txt' }), { method: 'POST' });
    assert.equal(r.status, 200);
    assert.deepEqual(await json(r), { path: '/tree/moved/g.txt', from: '/tree/f.txt' });
    assert.equal(readFileSync(join(root, 'tree/moved/g.txt'), 'utf8'), 'hello');
    await h.fetch(fs({ path: '/tree/h.txt' }), { method: 'PUT', body: 'h' });
    r = await h.fetch(fs({ path: '/tree/h.txt', op: 'rename', to: '/tree/moved/g.txt', noreplace: '1' }), { method: 'POST' });
    assert.equal(r.status, 409);
    assert.equal((await json(r)).reason, 'AlreadyExists');

    r = await h.fetch(fs({ path: '/tree' }), { method: 'DELETE' });
    assert.equal(r.status, 409);
    assert.match((await json(r)).message, /recursive=1/);
    r = await h.fetch(fs({ path: '/tree/h.txt' }), { method: 'DELETE' });
    assert.deepEqual(await json(r), { path: '/tree/h.txt', removed: true });
    r = await h.fetch(fs({ path: '/tree', recursive: '1' }), { method: 'DELETE' });
    assert.equal(r.status, 200);
    assert.equal(existsSync(join(root, 'tree')), false);
    r = await h.fetch(fs({ path: '/tree' }), { method: 'DELETE' });
    assert.equal(r.status, 404);
    assert.equal((await json(r)).reason, 'NotFound');
  });

  test('PUT options: mode, append, exclusive', async () => {
    await h.fetch(fs({ path: '/opt.txt', mode: '0640' }), { method: 'PUT', body: 'a' });
    assert.equal(statSync(join(root, 'opt.txt')).mode & 0o777, 0o640);
    await h.fetch(fs({ path: '/opt.txt', append: '1' }), { method: 'PUT', body: 'b' });
    assert.equal(readFileSync(join(root, 'opt.txt'), 'utf8'), 'ab');
    const r = await h.fetch(fs({ path: '/opt.txt', exclusive: '1' }), { method: 'PUT', body: 'c' });
    assert.equal(r.status, 409);
    assert.equal((await json(r)).reason, 'AlreadyExists');
    assert.equal(readFileSync(join(root, 'opt.txt'), 'utf8'), 'ab');
  });

  test('paths resolve inside the sandbox root: .. and absolute symlinks never reach the host', async () => {
    mkdirSync(join(root, 'etc'), { recursive: true });
    writeFileSync(join(root, 'etc/passwd'), 'sandbox passwd\n');
    symlinkSync('/etc/passwd', join(root, 'abs-link'));
    for (const p of ['../../etc/passwd', '/../../../etc/passwd', 'etc/../../etc/passwd', '/abs-link']) {
      const r = await h.fetch(fs({ path: p }));
      assert.equal(r.status, 200, p);
      assert.equal(await r.text(), 'sandbox passwd\n', p);
    }
    // A write through .. lands inside the root too.
    const r = await h.fetch(fs({ path: '../../../escape.txt' }), { method: 'PUT', body: 'x' });
    assert.equal(r.status, 200);
    assert.equal(readFileSync(join(root, 'escape.txt'), 'utf8'), 'x');
    assert.equal(existsSync('/escape.txt'), false);
    // /proc magic links are refused.
    const magic = await h.fetch(fs({ path: '/proc/self/root/etc/hostname' }));
    assert.ok(magic.status === 400 || magic.status === 404, String(magic.status));
    await magic.text();
  });

  test('bad requests: missing path, bad mode/op/format, NUL, not a regular file, unknown session', async () => {
    const cases: [string, string, number, RegExp][] = [
      ['GET', fs({}), 400, /path is required/],
      ['PUT', fs({ path: '/x', mode: '999' }), 400, /invalid value for mode/],
      ['POST', fs({ path: '/x' }), 400, /op is required/],
      ['POST', fs({ path: '/x', op: 'chmod' }), 400, /invalid value for op/],
      ['POST', fs({ path: '/x', op: 'rename' }), 400, /to is required/],
      ['GET', fs({ path: '/x', format: 'zip' }), 400, /invalid value for format/],
      ['GET', fs({ path: 'a\0b' }), 400, /NUL/],
      ['GET', fs({ path: '/', stat: 'maybe' }), 400, /invalid value for stat/],
      ['GET', fs({ path: '/missing' }), 404, /read \/missing: .*No such file/],
      ['DELETE', fs({ path: '/' }), 400, /remove \/:/],
      ['PATCH', fs({ path: '/x' }), 405, /does not allow/],
      ['GET', h.sub('nope', 'fs', { path: '/' }), 404, /"nope" not found/],
    ];
    for (const [method, url, code, msg] of cases) {
      const r = await h.fetch(url, { method, body: method === 'PUT' ? 'x' : undefined });
      const st = await json(r);
      assert.equal(r.status, code, `${method} ${url}: ${st.message}`);
      assert.equal(st.kind, 'Status');
      assert.match(st.message, msg, `${method} ${url}`);
    }
    const gz = await h.fetch(fs({ path: '/x' }), { method: 'PUT', body: 'x', headers: { 'content-encoding': 'gzip' } });
    assert.equal(gz.status, 415);
    await gz.text();
  });

  test('uploads over max_upload_bytes: 413 (by Content-Length, and counted for chunked bodies)', async () => {
    const h2 = await startHarness({ config: { max_upload_bytes: 1000 } });
    try {
      await h2.session('s');
      let r = await h2.fetch(h2.sub('s', 'fs', { path: '/big' }), { method: 'PUT', body: Buffer.alloc(1001) });
      assert.equal(r.status, 413);
      assert.equal((await json(r)).reason, 'RequestEntityTooLarge');
      const chunks = async function* () {
        for (let i = 0; i < 5; i++) yield Buffer.alloc(400);
      };
      r = await h2.fetch(h2.sub('s', 'fs', { path: '/big' }), {
        method: 'PUT',
        body: ReadableStreamFrom(chunks()),
        duplex: 'half',
      } as RequestInit);
      assert.equal(r.status, 413);
      await r.text();
      r = await h2.fetch(h2.sub('s', 'fs', { path: '/ok' }), { method: 'PUT', body: Buffer.alloc(1000) });
      assert.equal(r.status, 200);
    } finally {
      await h2.close();
    }
  });

  test('200 MiB streamed both ways, raw and as a tar; the server grows by less than half of it', async () => {
    // The client runs in another process, so this process's memory is the server's alone. A
    // server that held the file would grow by all of it; under load RSS lags the GC, hence the margin.
    const total = 200 * 1024 * 1024;
    const client = `
      const { createHash } = require('node:crypto');
      const [url, token, total] = [process.argv[1], process.argv[2], Number(process.argv[3])];
      const headers = { authorization: 'Bearer ' + token };
      const chunk = Buffer.alloc(256 * 1024);
      const sent = createHash('sha256');
      let n = 0;
      const body = new ReadableStream({ pull(c) {
        if (n >= total) return c.close();
        for (let i = 0; i < chunk.length; i += 4096) chunk.writeUInt32LE((n + i) >>> 0, i);
        sent.update(chunk); n += chunk.length; c.enqueue(new Uint8Array(chunk));
      } });
      (async () => {
        let t = performance.now();
        const up = await fetch(url, { method: 'PUT', body, duplex: 'half', headers });
        const upBody = await up.json();
        const upMs = performance.now() - t;
        t = performance.now();
        const down = await fetch(url, { headers });
        const got = createHash('sha256');
        let m = 0;
        for await (const c of down.body) { got.update(c); m += c.length; }
        const downMs = performance.now() - t;
        // The directory as a tar, piped straight back in as an upload elsewhere.
        t = performance.now();
        const tar = await fetch(url.replace('path=%2Fbig%2Fbig.bin', 'path=%2Fbig&format=tar'), { headers });
        const copy = await fetch(url.replace('path=%2Fbig%2Fbig.bin', 'path=%2Fbig-copy&format=tar'), { method: 'PUT', body: tar.body, duplex: 'half', headers });
        const copyBody = await copy.json();
        console.log(JSON.stringify({ upStatus: up.status, upBody, upMs, downStatus: down.status, length: down.headers.get('content-length'),
          received: m, downMs, same: got.digest('hex') === sent.digest('hex'), tarStatus: tar.status, copyStatus: copy.status, copyBody, tarMs: performance.now() - t }));
      })();`;
    const base = process.memoryUsage().rss;
    let peak = base;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
    try {
      const out = await new Promise<string>((resolve, reject) => {
        const child = spawn(process.execPath, ['-e', client, fs({ path: '/big/big.bin' }), API_KEY, String(total)], { stdio: ['ignore', 'pipe', 'inherit'] });
        let text = '';
        child.stdout.on('data', (d: Buffer) => (text += d.toString()));
        child.on('error', reject);
        child.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`client exited ${code}`))));
      });
      clearInterval(sampler);
      const mib = (peak - base) / 1024 / 1024;
      const r = JSON.parse(out) as Record<string, unknown>;
      assert.equal(r.upStatus, 200);
      assert.deepEqual(r.upBody, { path: '/big/big.bin', bytes: total });
      assert.equal(statSync(join(root, 'big/big.bin')).size, total);
      assert.equal(r.downStatus, 200);
      assert.equal(r.length, String(total));
      assert.equal(r.received, total);
      assert.equal(r.same, true, 'downloaded bytes are the uploaded ones');
      assert.equal(r.tarStatus, 200);
      assert.equal(r.copyStatus, 200, JSON.stringify(r.copyBody));
      assert.deepEqual(r.copyBody, { path: '/big-copy', files: 1, directories: 0, bytes: total, skipped: [] });
      const [a, b] = [readFileSync(join(root, 'big/big.bin')), readFileSync(join(root, 'big-copy/big.bin'))];
      assert.ok(a.equals(b), 'the tar round trip kept the bytes');
      console.log(`# 200 MiB: upload ${Number(r.upMs).toFixed(0)} ms, download ${Number(r.downMs).toFixed(0)} ms, tar down+up ${Number(r.tarMs).toFixed(0)} ms, server RSS +${mib.toFixed(1)} MiB`);
      assert.ok(mib < total / 2 / 1024 / 1024, `RSS grew by ${mib.toFixed(1)} MiB`);
    } finally {
      clearInterval(sampler);
    }
  });
});

/** A web ReadableStream over an async iterable (fetch takes it as a streamed body). */
function ReadableStreamFrom(it: AsyncIterable<Buffer>): ReadableStream<Uint8Array> {
  const iter = it[Symbol.asyncIterator]();
  return new ReadableStream({
    async pull(controller) {
      const { value, done } = await iter.next();
      if (done) controller.close();
      else controller.enqueue(value);
    },
  });
}
