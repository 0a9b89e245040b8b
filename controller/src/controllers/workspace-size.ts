// How much disk a Workspace uses, measured off the reconcile path. Each measurement is a `du`
// child process (as cAdvisor and the kubelet measure volumes): the walk costs no JavaScript time
// and no libuv threadpool slots (which file streaming needs), runs at the lowest CPU priority,
// and is killed when it exceeds its time budget or the controller stops. A reconcile never waits
// for one: it reads the last result and, when a new one is due, starts it in the background; the
// result re-queues the workspace.

import { spawn } from 'node:child_process';
import { setPriority } from 'node:os';
import { errorMessage } from '../runtime/errors.js';
import { silentLogger, type Logger } from '../runtime/log.js';

export interface DiskUsageOptions {
  /** Kills the walk (default 30 s); the promise rejects. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** The du program (default "du" from PATH); coreutils and busybox both work. */
  du?: string;
}

/**
 * Bytes of disk `dir` uses (allocated blocks, as `du` counts them: hard links once, symlinks not
 * followed, other filesystems mounted inside not entered).
 */
export function diskUsage(dir: string, options: DiskUsageOptions = {}): Promise<number> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  return new Promise<number>((resolve, reject) => {
    // -k: KiB on coreutils and busybox alike (busybox has no -B1); allocation is in 4 KiB blocks anyway.
    const child = spawn(options.du ?? 'du', ['-x', '-s', '-k', '--', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.signal && { signal: options.signal }),
      killSignal: 'SIGKILL',
    });
    // Not spawn's own `timeout`: its timer outlives a child that failed to start.
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    if (child.pid !== undefined) {
      try {
        setPriority(child.pid, 19);
      } catch {
        // Already exited, or not allowed: the walk just runs at normal priority.
      }
    }
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (err.length < 4096) err += d;
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal !== null) {
        reject(new Error(timedOut ? `du ${dir}: no result within ${timeoutMs} ms` : `du ${dir}: killed by ${signal}`));
        return;
      }
      // du exits 1 when some entry could not be read (e.g. removed during the walk) but still
      // prints the total of the rest: a close estimate beats none.
      const m = /^(\d+)\s/.exec(out);
      if (m) resolve(Number(m[1]) * 1024);
      else reject(new Error(`du ${dir}: exit ${code}: ${err.trim().split('\n')[0] ?? 'no output'}`));
    });
  });
}

export interface SizeTrackerOptions {
  /** Called with a key whose measurement finished (or failed): reconcile it again. */
  onMeasured(key: string): void;
  logger?: Logger;
  /** Re-measure a workspace sessions use this often (default 30 s). */
  boundIntervalMs?: number;
  /** Re-measure an unused one this often (default 5 min): only the host can change it then. */
  idleIntervalMs?: number;
  /** Time budget of one measurement (default 30 s). */
  timeoutMs?: number;
  /** Measurements running at once (default 2). */
  concurrency?: number;
  du?: string;
}

interface Entry {
  /** The object uid the entry belongs to: a re-created workspace starts afresh. */
  uid: string;
  bytes: number | undefined;
  /** performance.now() when the last measurement started (monotonic: wall-clock jumps do not matter). */
  startedAt: number | undefined;
  /** The set of sessions at the last measurement: a session coming or going is a change worth measuring. */
  users: string;
  running: boolean;
  queued: boolean;
}

export interface SizeObservation {
  /** The last measured size, if any. */
  bytes: number | undefined;
  /** When the next measurement is due (undefined while one is running or queued). */
  nextInMs: number | undefined;
}

export class SizeTracker {
  readonly #opts: Required<Omit<SizeTrackerOptions, 'logger' | 'du'>> & { du: string | undefined };
  readonly #log: Logger;
  readonly #entries = new Map<string, Entry>();
  readonly #waiting: Array<() => void> = [];
  #running = 0;
  #duMissing = false;

  constructor(options: SizeTrackerOptions) {
    this.#opts = {
      onMeasured: options.onMeasured,
      boundIntervalMs: options.boundIntervalMs ?? 30_000,
      idleIntervalMs: options.idleIntervalMs ?? 300_000,
      timeoutMs: options.timeoutMs ?? 30_000,
      concurrency: options.concurrency ?? 2,
      du: options.du,
    };
    this.#log = options.logger ?? silentLogger;
  }

  /**
   * The last size of workspace `key`; starts a measurement of `dir` in the background when none
   * exists, the users changed since the last one, or the last one is older than the interval.
   * `signal` kills running measurements (the controller's lifetime signal).
   */
  observe(key: string, uid: string, dir: string, users: readonly string[], signal: AbortSignal): SizeObservation {
    const usersKey = users.join(',');
    let e = this.#entries.get(key);
    if (e === undefined || e.uid !== uid) {
      e = { uid, bytes: undefined, startedAt: undefined, users: usersKey, running: false, queued: false };
      this.#entries.set(key, e);
    }
    if (e.running || e.queued) return { bytes: e.bytes, nextInMs: undefined };
    if (this.#duMissing) return { bytes: e.bytes, nextInMs: undefined };
    const interval = users.length > 0 ? this.#opts.boundIntervalMs : this.#opts.idleIntervalMs;
    const age = e.startedAt === undefined ? Infinity : performance.now() - e.startedAt;
    if (age >= interval || e.users !== usersKey) {
      e.users = usersKey;
      this.#start(key, e, dir, signal);
      return { bytes: e.bytes, nextInMs: undefined };
    }
    return { bytes: e.bytes, nextInMs: Math.max(1, interval - age) };
  }

  /** Drops what is known about `key` (its workspace is gone). */
  forget(key: string): void {
    this.#entries.delete(key);
  }

  #start(key: string, e: Entry, dir: string, signal: AbortSignal): void {
    e.queued = true;
    const run = () => {
      e.queued = false;
      // Gone or re-created while waiting for a slot: nothing to measure for this entry.
      if (this.#entries.get(key) !== e || signal.aborted) return this.#release();
      e.running = true;
      e.startedAt = performance.now();
      diskUsage(dir, { timeoutMs: this.#opts.timeoutMs, signal, ...(this.#opts.du !== undefined && { du: this.#opts.du }) })
        .then(
          (bytes) => {
            e.bytes = bytes;
          },
          (err: unknown) => {
            if (signal.aborted) return;
            if ((err as NodeJS.ErrnoException).code === 'ENOENT' && (err as NodeJS.ErrnoException).syscall?.startsWith('spawn')) {
              this.#duMissing = true;
              this.#log.error(`workspace sizes are not measured: ${errorMessage(err)} (install coreutils or busybox du)`);
              return;
            }
            this.#log.warn(`workspace ${key}: size not measured: ${errorMessage(err)}`);
          },
        )
        .finally(() => {
          e.running = false;
          this.#release();
          if (!signal.aborted && this.#entries.get(key) === e) this.#opts.onMeasured(key);
        });
    };
    if (this.#running < this.#opts.concurrency) {
      this.#running++;
      run();
    } else {
      this.#waiting.push(run);
    }
  }

  /** A slot is free: hand it to the next waiting measurement. */
  #release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#running--;
  }
}
