import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { openSqliteStore, SCHEMA_VERSION, type SqliteStoreOptions } from './sqlite-store.js';
import { startCompactor } from './compactor.js';
import { storeConformance, key, obj, type FixtureOptions } from './store-conformance.js';
import type { Store, StoreEvent } from './types.js';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'sk-store-'));
}

function fileFixture({ now, log }: FixtureOptions) {
  const dir = tempDir();
  const path = join(dir, 'sandkasten.db');
  const opts: SqliteStoreOptions = { now, log, busyTimeoutMs: 200 };
  let store = openSqliteStore(path, opts);
  return {
    store,
    reopen: (): Store => {
      store.close();
      store = openSqliteStore(path, opts);
      return store;
    },
    cleanup: (): void => {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

storeConformance('sqlite file', fileFixture);
storeConformance('sqlite :memory:', ({ now, log }) => {
  const store = openSqliteStore(':memory:', { now, log });
  return { store, cleanup: () => store.close() };
});

describe('sqlite store: the file', () => {
  test('one process owns the file: a second open fails clearly, and works after close', () => {
    const dir = tempDir();
    try {
      const path = join(dir, 'db');
      const a = openSqliteStore(path);
      a.create(key('s', 'n', 'x'), obj(key('s', 'n', 'x')));
      assert.throws(() => openSqliteStore(path, { busyTimeoutMs: 50 }), /in use by another process/);
      // Not even a plain reader gets in while the owner runs.
      const raw = new Database(path, { timeout: 50 });
      assert.throws(() => raw.prepare('SELECT count(*) FROM objects').get(), /locked/);
      raw.close();
      a.close();
      const b = openSqliteStore(path, { busyTimeoutMs: 50 });
      assert.equal(b.currentResourceVersion(), 1);
      b.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('schema: WAL mode, tables as documented, newer schema refused, junk refused', () => {
    const dir = tempDir();
    try {
      const path = join(dir, 'db');
      const s = openSqliteStore(path);
      s.create(key('s', 'n', 'x'), obj(key('s', 'n', 'x')));
      s.delete(key('s', 'n', 'x'));
      s.close();
      const db = new Database(path);
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      assert.deepEqual(
        db.prepare('SELECT rv, resource, namespace, name, type FROM log ORDER BY rv').all(),
        [
          { rv: 1, resource: 's', namespace: 'n', name: 'x', type: 'ADDED' },
          { rv: 2, resource: 's', namespace: 'n', name: 'x', type: 'DELETED' },
        ],
      );
      const deleted = JSON.parse((db.prepare('SELECT object FROM log WHERE rv = 2').get() as { object: string }).object);
      assert.equal(deleted.metadata.resourceVersion, '2');
      assert.equal((db.prepare('SELECT count(*) AS n FROM objects').get() as { n: number }).n, 0);
      db.prepare("UPDATE meta SET value = ? WHERE key = 'schema_version'").run(SCHEMA_VERSION + 1);
      db.close();
      assert.throws(() => openSqliteStore(path), /schema version 2 is newer/);

      const junk = join(dir, 'junk');
      writeFileSync(junk, 'this is not a database, just some bytes '.repeat(100));
      assert.throws(() => openSqliteStore(junk), /open store .*junk: file is not a database/);
      assert.throws(() => openSqliteStore(join(dir, 'missing-dir', 'db')), /open store/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('trace: one line per operation', () => {
    const lines: string[] = [];
    const s = openSqliteStore(':memory:', { trace: true, log: (l) => lines.push(l) });
    const k = key('sessions', 'n', 'a');
    s.create(k, obj(k));
    s.create(k, obj(k));
    s.update(k, obj(k), 7);
    s.delete(k);
    s.close();
    assert.deepEqual(lines, [
      'store: CREATE sessions/n/a => rv=1, err=null',
      'store: CREATE sessions/n/a => rv=1, err=AlreadyExists',
      'store: UPDATE sessions/n/a => rv=1, err=Conflict',
      'store: DELETE sessions/n/a => rv=2, err=null',
    ]);
  });

  test('startCompactor compacts on its interval and stops', async () => {
    let now = 0;
    const s = openSqliteStore(':memory:', { now: () => now });
    for (let i = 0; i < 20; i++) s.create(key('s', 'n', `o${i}`), obj(key('s', 'n', `o${i}`)));
    now = 10_000;
    const stop = startCompactor(s, 10, { minEvents: 5, minAgeMs: 1000, batchRows: 4 }); // 4 slices
    // Poll rather than sleep a fixed time: on a loaded machine the timer may fire late.
    for (const deadline = Date.now() + 5000; s.oldestResourceVersion() !== 15 && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(s.oldestResourceVersion(), 15);
    stop();
    for (let i = 20; i < 40; i++) s.create(key('s', 'n', `o${i}`), obj(key('s', 'n', `o${i}`)));
    now = 20_000;
    await new Promise((r) => setTimeout(r, 40));
    assert.equal(s.oldestResourceVersion(), 15, 'stopped');
    s.close();
    assert.throws(() => startCompactor(s, 0), TypeError);
  });
});

test('kill -9 mid-burst loses no acknowledged write', async () => {
  const dir = tempDir();
  const path = join(dir, 'db');
  const script = fileURLToPath(new URL('./testdata/burst-writer.js', import.meta.url));
  const child = spawn(process.execPath, [script, path], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const acked: { op: string; name: string; rv: number }[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      let buf = '';
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        const lines = buf.split('\n');
        buf = lines.pop()!; // a torn last line is not an acknowledgement
        for (const line of lines) {
          if (line === 'ready') continue;
          const [op, name, rv] = line.split(' ');
          acked.push({ op: op!, name: name!, rv: Number(rv) });
        }
        if (acked.length >= 3000 && child.exitCode === null && !child.killed) child.kill('SIGKILL');
      });
      child.on('exit', (code, signal) => {
        if (signal === 'SIGKILL') resolve();
        else reject(new Error(`burst writer exited early: code ${code} ${stderr}`));
      });
    });

    const s = openSqliteStore(path, { busyTimeoutMs: 1000 });
    const log: StoreEvent[] = [];
    s.watch({ resource: 'things', sinceResourceVersion: 0 }, (e) => log.push(e));
    const byRv = new Map(log.map((e) => [e.resourceVersion, e]));
    const type = { C: 'ADDED', U: 'MODIFIED', D: 'DELETED' } as const;
    for (const a of acked) {
      const e = byRv.get(a.rv);
      assert.ok(e, `acknowledged rv ${a.rv} (${a.op} ${a.name}) is in the log`);
      assert.equal(e.type, type[a.op as keyof typeof type]);
      assert.equal(e.object.metadata.name, a.name);
    }
    // The log has no holes and the objects table is exactly the fold of the log.
    assert.deepEqual(log.map((e) => e.resourceVersion), log.map((_, i) => i + 1));
    const folded = new Map<string, number>();
    for (const e of log) {
      if (e.type === 'DELETED') folded.delete(e.object.metadata.name);
      else folded.set(e.object.metadata.name, e.resourceVersion);
    }
    const current = new Map(s.list('things').items.map((o) => [o.metadata.name, Number(o.metadata.resourceVersion)]));
    assert.deepEqual(current, folded);
    const maxAcked = Math.max(...acked.map((a) => a.rv));
    assert.ok(s.currentResourceVersion() >= maxAcked);
    const next = s.create(key('things', 'burst', 'after'), obj(key('things', 'burst', 'after')));
    assert.ok(next.ok && Number(next.object.metadata.resourceVersion) === s.currentResourceVersion());
    assert.ok(s.currentResourceVersion() > maxAcked);
    s.close();
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
