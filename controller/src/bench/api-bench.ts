// `npm run bench:api`: creates/s, gets/s, list latency and watch delivery latency of the API
// server with 10,000 objects stored. The server is the real `sandkasten` daemon in a child
// process; the load generator (this process, undici over BENCH_CONCURRENCY keep-alive HTTP/1.1
// connections, one request at a time on each) shares the same cores. Side by side, the same
// generator against the daemon's /healthz gives the HTTP floor.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Pool } from 'undici';
import { startBenchDaemon } from './daemon.js';

const OBJECTS = Number(process.env.BENCH_OBJECTS ?? 10_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const TOKEN = 'bench-key';
const NS = 'bench';

let port = 0;
let pool: Pool | undefined;

interface Reply {
  status: number;
  body: string;
}

async function request(method: string, path: string, body?: unknown): Promise<Reply> {
  pool ??= new Pool(`http://127.0.0.1:${port}`, { connections: CONCURRENCY, pipelining: 1 });
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` };
  if (payload !== undefined) headers['content-type'] = 'application/json';
  const r = await pool.request({ method: method as 'GET', path, headers, body: payload });
  return { status: r.statusCode, body: await r.body.text() };
}

function session(name: string): object {
  return {
    apiVersion: 'sandkasten.dev/v1',
    kind: 'Session',
    metadata: { name, namespace: NS, labels: { bench: 'yes', shard: String(name.length % 7) } },
    spec: { image: 'base', ttlSeconds: 600 },
  };
}

/** Runs `total` calls of `op(i)` with CONCURRENCY in flight; returns calls per second. */
async function drive(total: number, op: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const t0 = process.hrtime.bigint();
  const worker = async (): Promise<void> => {
    while (next < total) await op(next++);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return total / s;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

function expect(r: Reply, code: number, what: string): void {
  if (r.status !== code) throw new Error(`${what}: HTTP ${r.status}: ${r.body.slice(0, 300)}`);
}


async function startDaemon(dir: string): Promise<ChildProcess> {
  // API only: the 10,000 Sessions must not start sandboxes.
  const d = await startBenchDaemon({ dir, token: TOKEN, args: ['--api-only'], isReady: async (p) => ((port = p), (await request('GET', '/readyz')).status === 200) });
  return d.child;
}

async function watchLatency(samples: number): Promise<number[]> {
  const base = `/apis/sandkasten.dev/v1/namespaces/${NS}/sessions`;
  const start = await request('GET', `${base}?limit=1`);
  const rv = (JSON.parse(start.body) as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
  const pending = new Map<string, bigint>();
  const latencies: number[] = [];
  let waiter: (() => void) | undefined;
  // The watch has a connection of its own, as an informer would.
  const client = new Client(`http://127.0.0.1:${port}`);
  const res = await client.request({ method: 'GET', path: `${base}?watch=1&resourceVersion=${rv}`, headers: { authorization: `Bearer ${TOKEN}` } });
  if (res.statusCode !== 200) throw new Error(`watch: HTTP ${res.statusCode}`);
  let buf = '';
  res.body.setEncoding('utf8');
  res.body.on('data', (chunk: string) => {
    const now = process.hrtime.bigint();
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const ev = JSON.parse(line) as { object: { metadata: { name: string } } };
      const t = pending.get(ev.object.metadata.name);
      if (t !== undefined) {
        pending.delete(ev.object.metadata.name);
        latencies.push(Number(now - t) / 1e6);
        waiter?.();
      }
    }
  });
  res.body.on('error', () => {});
  // One write at a time: the latency is from sending the write to the event's arrival,
  // so it includes the write itself.
  for (let i = 0; i < samples; i++) {
    const name = `watch-${i}`;
    const got = new Promise<void>((r) => (waiter = r));
    pending.set(name, process.hrtime.bigint());
    expect(await request('POST', base, session(name)), 201, 'watch create');
    await got;
  }
  await client.destroy();
  return latencies.sort((a, b) => a - b);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sk-bench-api-'));
  const daemon = await startDaemon(dir);
  try {
    const base = `/apis/sandkasten.dev/v1/namespaces/${NS}/sessions`;
    const healthz = async () => expect(await request('GET', '/healthz'), 200, 'healthz');
    // Warm-up: every connection open and both processes' HTTP code compiled before measuring.
    await drive(5_000, healthz);
    const floor = await drive(20_000, healthz);
    const creates = await drive(OBJECTS, async (i) => expect(await request('POST', base, session(`s-${i}`)), 201, 'create'));
    const gets = await drive(30_000, async (i) => expect(await request('GET', `${base}/s-${(i * 7919) % OBJECTS}`), 200, 'get'));
    const listMs: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = process.hrtime.bigint();
      const r = await request('GET', base);
      expect(r, 200, 'list');
      listMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (i === 0 && (JSON.parse(r.body) as { items: unknown[] }).items.length !== OBJECTS) throw new Error('list: wrong item count');
    }
    listMs.sort((a, b) => a - b);
    const selMs: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = process.hrtime.bigint();
      expect(await request('GET', `${base}?labelSelector=shard%3D3`), 200, 'list selector');
      selMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    selMs.sort((a, b) => a - b);
    const watch = await watchLatency(1_000);

    const f = (n: number) => (n < 10 ? n.toFixed(2) : Math.round(n).toLocaleString('en-US'));
    const ms = (v: number[]) => `${f(percentile(v, 50))} / ${f(percentile(v, 99))} ms`;
    const rows: [string, string, string][] = [
      ['HTTP floor: GET /healthz', `${f(floor)} req/s`, '–'],
      ['create (POST Session)', `${f(creates)} /s`, '≥ 3,000 /s'],
      ['get (GET Session)', `${f(gets)} /s`, '≥ 8,000 /s'],
      [`list ${OBJECTS.toLocaleString('en-US')} objects p50 / p99`, ms(listMs), '–'],
      ['list with labelSelector p50 / p99', ms(selMs), '–'],
      ['watch delivery (write→event) p50 / p99', ms(watch), 'p99 < 5 ms'],
    ];
    const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length), ['measure', 'figure', 'target'][i]!.length));
    const line = (r: string[]) => `| ${r.map((c, i) => (i === 1 ? c.padStart(w[i]!) : c.padEnd(w[i]!))).join(' | ')} |`;
    console.log(
      `API server benchmark — ${OBJECTS.toLocaleString('en-US')} objects; load generator: undici, ${CONCURRENCY} keep-alive HTTP/1.1 connections (no pipelining), same host`,
    );
    console.log('');
    console.log(line(['measure', 'figure', 'target']));
    console.log(`|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`);
    for (const r of rows) console.log(line(r));
  } finally {
    await pool?.close();
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(`bench:api failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
