// The Store on SQLite (better-sqlite3), shaped after kine: an append-only event log whose row id
// is the resourceVersion, plus a table of current objects for reads, plus a meta table.
//
// Durability. The database runs in WAL mode with synchronous=NORMAL: a commit is a write() of its
// frames to the -wal file, without fsync. Once write() returns the data is in the kernel's page
// cache, so a crash of this process (kill -9, OOM kill, a Node abort) loses nothing that was
// acknowledged: the next open replays the WAL. Only a kernel crash or power loss can drop the last
// commits (never corrupt the file); `synchronous: 'FULL'` closes that gap at one fsync per write.
//
// Ownership. The file is opened with locking_mode=EXCLUSIVE and the lock is taken at open: one
// process owns the database. That is what lets the in-memory ObjectCache serve every read and
// lets watchers be notified in-process — a second writer would be invisible to both. A second
// open fails with a clear error after busyTimeoutMs. (It also means the sqlite3 shell cannot
// read the file while the server runs; read through the API.)
//
// Concurrency. Everything is synchronous on Node's one thread, so a write's check (against the
// cache) and its transaction cannot interleave with another write. The SQL statements repeat the
// check (INSERT on a primary key, UPDATE/DELETE ... WHERE rv = ?) so that a cache out of step
// with the table aborts the write instead of corrupting it.

import Database from 'better-sqlite3';
import type { Statement } from 'better-sqlite3';
import { ObjectCache, parseFrozen, type CacheEntry } from './object-cache.js';
import {
  ExpiredError,
  StoreReason,
  type ListResult,
  type ObjectKey,
  type RawListResult,
  type Store,
  type StoreEvent,
  type StoredObject,
  type Watch,
  type WatchEventType,
  type WatchOptions,
  type WriteResult,
} from './types.js';

export const SCHEMA_VERSION = 1;
export const DEFAULT_COMPACT_MIN_EVENTS = 1000;
export const DEFAULT_COMPACT_MIN_AGE_MS = 5 * 60 * 1000;
/** Log rows deleted per compaction transaction, so one compaction never holds a huge WAL frame set. */
const COMPACT_BATCH = 10_000;

export interface SqliteStoreOptions {
  /** How long open() waits for another process's lock before failing. Default 5000. */
  busyTimeoutMs?: number;
  /** 'NORMAL' survives a process crash; 'FULL' also survives power loss (one fsync per write). */
  synchronous?: 'NORMAL' | 'FULL';
  /** One line per operation (`VERB key => rv, err`). Default: env SANDKASTEN_TRACE_STORE=1. */
  trace?: boolean;
  /** Where trace lines and watcher errors go. Default: stderr. */
  log?: (line: string) => void;
  /** Wall clock in ms, for the log's created_at and compaction by age. Default Date.now. */
  now?: () => number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS log (
  rv         INTEGER PRIMARY KEY,
  resource   TEXT    NOT NULL,
  namespace  TEXT    NOT NULL,
  name       TEXT    NOT NULL,
  type       TEXT    NOT NULL CHECK (type IN ('ADDED', 'MODIFIED', 'DELETED')),
  object     TEXT    NOT NULL,
  created_at INTEGER NOT NULL
);
-- A rowid table with a unique key index rather than WITHOUT ROWID: rows are ~1 KiB, too wide for
-- a clustered key (measured: a create costs twice as much).
CREATE TABLE IF NOT EXISTS objects (
  id        INTEGER PRIMARY KEY,
  resource  TEXT    NOT NULL,
  namespace TEXT    NOT NULL,
  name      TEXT    NOT NULL,
  rv        INTEGER NOT NULL,
  object    TEXT    NOT NULL,
  UNIQUE (resource, namespace, name)
);
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
`;

interface LogRow {
  rv: number;
  namespace: string;
  name: string;
  type: WatchEventType;
  object: string;
}

interface PendingEvent {
  resource: string;
  namespace: string;
  event: StoreEvent;
}

interface Watcher {
  readonly resource: string;
  readonly namespace: string | undefined;
  readonly onEvent: (event: StoreEvent) => void;
  /** The newest rv delivered (or skipped as already seen): the dedupe and ordering guard. */
  last: number;
  closed: boolean;
}

/** Opens (creating if needed) the store at `path`; ':memory:' gives a throwaway store. */
export function openSqliteStore(path: string, opts: SqliteStoreOptions = {}): Store {
  return new SqliteStore(path, opts);
}

class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly cache = new ObjectCache();
  private readonly watchers = new Set<Watcher>();
  private readonly trace: boolean;
  private readonly log: (line: string) => void;
  private readonly now: () => number;
  private rv = 0;
  private compactedRv = 0;
  private closed = false;
  /** Committed events not yet handed to every watcher; see notify(). */
  private readonly pending: PendingEvent[] = [];
  private delivering = false;

  private readonly stmt: {
    appendLog: Statement<[number, string, string, string, WatchEventType, string, number]>;
    insertObject: Statement<[string, string, string, number, string]>;
    updateObject: Statement<[number, string, string, string, string, number]>;
    deleteObject: Statement<[string, string, string, number]>;
    replay: Statement<[number, number, string], LogRow>;
    replayNamespace: Statement<[number, number, string, string], LogRow>;
    nthNewest: Statement<[number], { rv: number }>;
    firstYoung: Statement<[number], { rv: number }>;
    deleteLog: Statement<[number]>;
    setMeta: Statement<[string, number]>;
  };
  private readonly writeTx: (fn: () => void) => void;

  constructor(
    private readonly path: string,
    opts: SqliteStoreOptions,
  ) {
    this.trace = opts.trace ?? process.env['SANDKASTEN_TRACE_STORE'] === '1';
    this.log = opts.log ?? ((line) => process.stderr.write(line + '\n'));
    this.now = opts.now ?? Date.now;
    try {
      this.db = new Database(path, { timeout: opts.busyTimeoutMs ?? 5000 });
    } catch (e) {
      throw new Error(`open store ${path}: ${(e as Error).message}`, { cause: e });
    }
    try {
      this.db.pragma('locking_mode = EXCLUSIVE');
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`synchronous = ${opts.synchronous === 'FULL' ? 'FULL' : 'NORMAL'}`);
      this.db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 5000}`);
      // Checkpoint every ~40 MiB of WAL instead of every 4 MiB: hot pages (the log's tail, the
      // index) are copied back less often; the file is trimmed back to 64 MiB after a checkpoint.
      this.db.pragma('wal_autocheckpoint = 10000');
      this.db.pragma('journal_size_limit = 67108864');
      // The first write transaction takes the exclusive lock and keeps it until close.
      this.db.exec('BEGIN IMMEDIATE');
      this.db.exec(SCHEMA);
      this.migrate();
      this.db.exec('COMMIT');
    } catch (e) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      this.db.close();
      const err = e as Error & { code?: string };
      const why = err.code === 'SQLITE_BUSY' ? 'in use by another process (database is locked)' : err.message;
      throw new Error(`open store ${path}: ${why}`, { cause: e });
    }

    const db = this.db;
    this.stmt = {
      appendLog: db.prepare(
        'INSERT INTO log (rv, resource, namespace, name, type, object, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      insertObject: db.prepare('INSERT INTO objects (resource, namespace, name, rv, object) VALUES (?, ?, ?, ?, ?)'),
      updateObject: db.prepare(
        'UPDATE objects SET rv = ?, object = ? WHERE resource = ? AND namespace = ? AND name = ? AND rv = ?',
      ),
      deleteObject: db.prepare('DELETE FROM objects WHERE resource = ? AND namespace = ? AND name = ? AND rv = ?'),
      replay: db.prepare('SELECT rv, namespace, name, type, object FROM log WHERE rv > ? AND rv <= ? AND resource = ? ORDER BY rv'),
      replayNamespace: db.prepare(
        'SELECT rv, namespace, name, type, object FROM log WHERE rv > ? AND rv <= ? AND resource = ? AND namespace = ? ORDER BY rv',
      ),
      nthNewest: db.prepare('SELECT rv FROM log ORDER BY rv DESC LIMIT 1 OFFSET ?'),
      firstYoung: db.prepare('SELECT rv FROM log WHERE created_at >= ? ORDER BY rv LIMIT 1'),
      deleteLog: db.prepare('DELETE FROM log WHERE rv <= ?'),
      setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    };
    this.writeTx = db.transaction((fn: () => void) => fn());
    this.load();
  }

  private migrate(): void {
    const row = this.db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as { value: number } | undefined;
    if (row === undefined) {
      this.db.prepare("INSERT INTO meta (key, value) VALUES ('schema_version', ?), ('compacted_rv', 0)").run(SCHEMA_VERSION);
    } else if (row.value > SCHEMA_VERSION) {
      throw new Error(`schema version ${row.value} is newer than this program's (${SCHEMA_VERSION})`);
    }
  }

  /** Fills the cache and resumes the counter. */
  private load(): void {
    const meta = this.db.prepare("SELECT value FROM meta WHERE key = 'compacted_rv'").get() as { value: number };
    this.compactedRv = meta.value;
    const maxLog = (this.db.prepare('SELECT max(rv) AS rv FROM log').get() as { rv: number | null }).rv ?? 0;
    const maxObj = (this.db.prepare('SELECT max(rv) AS rv FROM objects').get() as { rv: number | null }).rv ?? 0;
    // The log's newest rows may have been compacted away; compacted_rv remembers how far it went,
    // so the counter never goes back to a number it already handed out.
    this.rv = Math.max(maxLog, maxObj, this.compactedRv);
    const rows = this.db.prepare('SELECT resource, namespace, name, rv, object FROM objects').iterate() as IterableIterator<{
      resource: string;
      namespace: string;
      name: string;
      rv: number;
      object: string;
    }>;
    for (const r of rows) {
      this.cache.set(r.resource, { namespace: r.namespace, name: r.name, rv: r.rv, raw: r.object, object: parseFrozen(r.object) });
    }
  }

  // ---- reads ----

  get(key: ObjectKey): StoredObject | undefined {
    this.checkOpen();
    return this.cache.get(key.resource, key.namespace, key.name)?.object;
  }

  getRaw(key: ObjectKey): string | undefined {
    this.checkOpen();
    return this.cache.get(key.resource, key.namespace, key.name)?.raw;
  }

  list(resource: string, namespace?: string): ListResult {
    this.checkOpen();
    return { items: this.cache.range(resource, namespace).map((e) => e.object), resourceVersion: this.rv };
  }

  listRaw(resource: string, namespace?: string): RawListResult {
    this.checkOpen();
    return { items: this.cache.range(resource, namespace).map((e) => e.raw), resourceVersion: this.rv };
  }

  currentResourceVersion(): number {
    return this.rv;
  }

  oldestResourceVersion(): number {
    return this.compactedRv;
  }

  // ---- writes ----

  create(key: ObjectKey, object: StoredObject): WriteResult {
    this.checkWrite(key, object);
    if (this.cache.get(key.resource, key.namespace, key.name) !== undefined) {
      return this.traceFail('CREATE', key, { ok: false, reason: StoreReason.AlreadyExists });
    }
    const entry = this.entry(key, object, this.rv + 1);
    this.commit('CREATE', key, 'ADDED', entry, () => {
      this.stmt.insertObject.run(key.resource, key.namespace, key.name, entry.rv, entry.raw);
    });
    return { ok: true, object: entry.object };
  }

  update(key: ObjectKey, object: StoredObject, expectedResourceVersion?: number): WriteResult {
    this.checkWrite(key, object);
    const cur = this.cache.get(key.resource, key.namespace, key.name);
    if (cur === undefined) return this.traceFail('UPDATE', key, { ok: false, reason: StoreReason.NotFound });
    if (expectedResourceVersion !== undefined && expectedResourceVersion !== cur.rv) {
      return this.traceFail('UPDATE', key, { ok: false, reason: StoreReason.Conflict, current: cur.object });
    }
    const entry = this.entry(key, object, this.rv + 1);
    this.commit('UPDATE', key, 'MODIFIED', entry, () => {
      const r = this.stmt.updateObject.run(entry.rv, entry.raw, key.resource, key.namespace, key.name, cur.rv);
      if (r.changes !== 1) throw new Error(`store cache out of step with ${this.path} at ${fmtKey(key)}`);
    });
    return { ok: true, object: entry.object };
  }

  delete(key: ObjectKey, expectedResourceVersion?: number): WriteResult {
    this.checkOpen();
    checkKey(key);
    const cur = this.cache.get(key.resource, key.namespace, key.name);
    if (cur === undefined) return this.traceFail('DELETE', key, { ok: false, reason: StoreReason.NotFound });
    if (expectedResourceVersion !== undefined && expectedResourceVersion !== cur.rv) {
      return this.traceFail('DELETE', key, { ok: false, reason: StoreReason.Conflict, current: cur.object });
    }
    const entry = this.entry(key, cur.object, this.rv + 1);
    this.commit('DELETE', key, 'DELETED', entry, () => {
      const r = this.stmt.deleteObject.run(key.resource, key.namespace, key.name, cur.rv);
      if (r.changes !== 1) throw new Error(`store cache out of step with ${this.path} at ${fmtKey(key)}`);
    });
    return { ok: true, object: entry.object };
  }

  /** The stored form of `object` at `rv`: a private deep-frozen copy plus its JSON text. */
  private entry(key: ObjectKey, object: StoredObject, rv: number): CacheEntry {
    const raw = JSON.stringify({ ...object, metadata: { ...object.metadata, resourceVersion: String(rv) } });
    // Parsing our own text gives a copy that shares nothing with the caller's object and equals
    // what a restart would load.
    return { namespace: key.namespace, name: key.name, rv, raw, object: parseFrozen(raw) };
  }

  /** One transaction: append to the log, apply `apply` to the objects table; then cache, then notify. */
  private commit(verb: string, key: ObjectKey, type: WatchEventType, entry: CacheEntry, apply: () => void): void {
    try {
      this.writeTx(() => {
        this.stmt.appendLog.run(entry.rv, key.resource, key.namespace, key.name, type, entry.raw, this.now());
        apply();
      });
    } catch (e) {
      if (this.trace) this.log(`store: ${verb} ${fmtKey(key)} => rv=-, err=${(e as Error).message}`);
      throw e;
    }
    this.rv = entry.rv;
    if (type === 'DELETED') this.cache.delete(key.resource, key.namespace, key.name);
    else this.cache.set(key.resource, entry);
    if (this.trace) this.log(`store: ${verb} ${fmtKey(key)} => rv=${entry.rv}, err=null`);
    this.notify({ resource: key.resource, namespace: key.namespace, event: { type, object: entry.object, raw: entry.raw, resourceVersion: entry.rv } });
  }

  private traceFail(verb: string, key: ObjectKey, result: WriteResult): WriteResult {
    if (this.trace && !result.ok) this.log(`store: ${verb} ${fmtKey(key)} => rv=${this.rv}, err=${result.reason}`);
    return result;
  }

  // ---- watch ----

  watch(options: WatchOptions, onEvent: (event: StoreEvent) => void): Watch {
    this.checkOpen();
    const { resource, namespace, sinceResourceVersion: since } = options;
    if (typeof resource !== 'string' || resource === '') throw new TypeError('watch: resource must be a non-empty string');
    if (since !== undefined) {
      if (!Number.isSafeInteger(since) || since < 0) {
        throw new TypeError(`watch: sinceResourceVersion must be a non-negative integer, got ${String(since)}`);
      }
      if (since < this.compactedRv) throw new ExpiredError(since, this.compactedRv);
      if (since > this.rv) {
        throw new ExpiredError(since, this.compactedRv, `resource version ${since} is newer than the store's ${this.rv}`);
      }
    }
    const w: Watcher = { resource, namespace, onEvent, last: since ?? this.rv, closed: false };
    this.watchers.add(w);
    if (this.trace) this.log(`store: WATCH ${resource}/${namespace ?? '*'} since=${since ?? '-'} => rv=${this.rv}, err=null`);
    // Replay runs as part of delivery, so events committed by callbacks during the replay queue up
    // behind it (see notify) instead of overtaking it.
    const outer = this.delivering;
    this.delivering = true;
    try {
      if (w.last < this.rv) this.replay(w, this.rv);
    } finally {
      this.delivering = outer;
    }
    if (!outer) this.drain();
    return {
      close: () => {
        w.closed = true;
        this.watchers.delete(w);
      },
    };
  }

  /** Delivers logged events in (w.last, upTo] to w. */
  private replay(w: Watcher, upTo: number): void {
    const rows =
      w.namespace === undefined
        ? this.stmt.replay.all(w.last, upTo, w.resource)
        : this.stmt.replayNamespace.all(w.last, upTo, w.resource, w.namespace);
    for (const row of rows) {
      if (w.closed || this.closed) return;
      // An informer resuming usually replays events that are still the current state: share the
      // cached object instead of parsing it again.
      const cur = row.type === 'DELETED' ? undefined : this.cache.get(w.resource, row.namespace, row.name);
      const object = cur !== undefined && cur.rv === row.rv ? cur.object : parseFrozen(row.object);
      this.deliver(w, { type: row.type, object, raw: row.object, resourceVersion: row.rv });
    }
    w.last = Math.max(w.last, upTo);
  }

  private notify(item: PendingEvent): void {
    this.pending.push(item);
    // A callback that writes lands here while an outer delivery is still running: queue the event
    // so every watcher sees events in rv order; the outer loop delivers it.
    if (!this.delivering) this.drain();
  }

  private drain(): void {
    this.delivering = true;
    try {
      // Index loop: callbacks may append while we walk.
      for (let i = 0; i < this.pending.length; i++) {
        if (this.closed) break;
        const { resource, namespace, event } = this.pending[i]!;
        for (const w of this.watchers) {
          if (w.resource !== resource || (w.namespace !== undefined && w.namespace !== namespace)) continue;
          this.deliver(w, event);
        }
      }
    } finally {
      this.pending.length = 0;
      this.delivering = false;
    }
  }

  private deliver(w: Watcher, event: StoreEvent): void {
    if (w.closed || event.resourceVersion <= w.last) return;
    w.last = event.resourceVersion;
    try {
      w.onEvent(event);
    } catch (e) {
      this.log(`store: watch ${w.resource}/${w.namespace ?? '*'} callback threw at rv ${event.resourceVersion}: ${(e as Error)?.stack ?? String(e)}`);
    }
  }

  // ---- compaction ----

  compact(minEvents = DEFAULT_COMPACT_MIN_EVENTS, minAgeMs = DEFAULT_COMPACT_MIN_AGE_MS, maxRows = Infinity): number {
    this.checkOpen();
    if (!Number.isSafeInteger(minEvents) || minEvents < 0) throw new TypeError('compact: minEvents must be a non-negative integer');
    if (!Number.isFinite(minAgeMs) || minAgeMs < 0) throw new TypeError('compact: minAgeMs must be a non-negative number');
    if (!(maxRows >= 1)) throw new TypeError('compact: maxRows must be at least 1');
    // The log is cut at one rv so "resumable" stays a single bound: everything up to `cut` goes.
    // By count: the newest row outside the newest minEvents. By age: the row before the oldest
    // young one (a prefix, even if the clock once stepped back).
    // The cut may pass rows that are still the current state of live objects: the objects table
    // holds current state, so the log is only history, and a watch from before the cut gets 410.
    const byCount = this.stmt.nthNewest.get(minEvents)?.rv ?? 0;
    const young = this.stmt.firstYoung.get(this.now() - minAgeMs)?.rv;
    const byAge = young === undefined ? Infinity : young - 1;
    const cut = Math.min(byCount, byAge, this.compactedRv + maxRows);
    const from = this.compactedRv;
    let deleted = 0;
    while (this.compactedRv < cut) {
      const to = Math.min(cut, this.compactedRv + COMPACT_BATCH);
      this.writeTx(() => {
        deleted += this.stmt.deleteLog.run(to).changes;
        this.stmt.setMeta.run('compacted_rv', to);
      });
      this.compactedRv = to;
    }
    if (this.trace) this.log(`store: COMPACT ${from}..${this.compactedRv} => rv=${this.rv}, err=null`);
    return deleted;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.watchers) w.closed = true;
    this.watchers.clear();
    this.db.close();
  }

  // ---- checks ----

  private checkOpen(): void {
    if (this.closed) throw new Error(`store ${this.path} is closed`);
  }

  private checkWrite(key: ObjectKey, object: StoredObject): void {
    this.checkOpen();
    checkKey(key);
    const m = (object as { metadata?: unknown } | null)?.metadata as StoredObject['metadata'] | undefined;
    if (typeof m !== 'object' || m === null) throw new TypeError(`${fmtKey(key)}: object has no metadata`);
    if (m.name !== key.name || (m.namespace ?? '') !== key.namespace) {
      throw new TypeError(
        `${fmtKey(key)}: metadata names ${JSON.stringify(m.namespace ?? '')}/${JSON.stringify(m.name)}, not the key`,
      );
    }
  }
}

function checkKey(key: ObjectKey): void {
  for (const f of ['resource', 'name'] as const) {
    if (typeof key[f] !== 'string' || key[f] === '') throw new TypeError(`store key: ${f} must be a non-empty string`);
  }
  if (typeof key.namespace !== 'string') throw new TypeError('store key: namespace must be a string ("" = cluster-scoped)');
  // The cache joins namespace and name with NUL.
  if (key.namespace.includes('\u0000') || key.name.includes('\u0000')) throw new TypeError('store key: NUL in namespace or name');
}

function fmtKey(key: ObjectKey): string {
  return key.namespace === '' ? `${key.resource}/${key.name}` : `${key.resource}/${key.namespace}/${key.name}`;
}
