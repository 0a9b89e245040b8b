// Sessions as objects to work with, the way the original SDKs offered them: create one and wait
// until it is Ready, run commands in its persistent shell (whole or streamed), move files and
// directory trees in and out (streamed both ways, directories as tar), read its resource usage,
// open its terminal, and destroy it — also implicitly, with `await using`.
//
// Everything here is a thin layer over the Session resource and its subresources (exec, fs,
// stats, attach) through the client's transport.

import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Condition, EnvVar, Image, Session, SessionResources, SessionSpec, Status, Workspace } from '@sandkasten/api-schemas';
import { attachSession, type AttachOptions, type TerminalConnection } from './attach.js';
import type { SandboxClient } from './client.js';
import { ApiError, NotFoundError, clientTimeout, errorFromStatus, parseStatus } from './errors.js';
import { resolveKind, resourcePath } from './kinds.js';
import type { HttpRequest, QueryValue, RequestBody, StreamResponse } from './transport.js';

// Node 20 before 20.4 has no Symbol.asyncDispose; TypeScript's `await using` looks it up at run time.
(Symbol as { asyncDispose?: symbol }).asyncDispose ??= Symbol.for('nodejs.asyncDispose');

const SESSIONS = resolveKind('sessions');
/** Relative paths in file calls are taken from here, where the shell of a default image starts. */
export const WORKSPACE_DIR = '/workspace';
const DEFAULT_CREATE_TIMEOUT_MS = 120_000;
/** Ready=False reasons of a Pending Session the controller keeps retrying by itself. */
const TRANSIENT_PENDING = new Set(['Starting', 'ImageNotFound', 'ImageUnreadable', 'WorkspaceNotFound', 'WorkspacePending', 'WorkspaceTerminating']);

export interface CreateSessionOptions {
  /** The Image to run (default: the daemon's default_image). */
  image?: string;
  /** Idle time-to-live in seconds (default: the daemon's session_ttl_seconds). */
  ttlSeconds?: number;
  /** A Workspace to mount at /workspace; created (reclaimPolicy Retain) when it does not exist. */
  workspace?: string;
  /** The Session's name (default: generated, `s-` and five characters). */
  name?: string;
  namespace?: string;
  labels?: Record<string, string>;
  resources?: SessionResources;
  /** Environment of the shell and of every exec. */
  env?: Record<string, string> | EnvVar[];
  /** Anything else of the spec (network, workingDir, securityProfile, …). */
  spec?: SessionSpec;
  /** How long to wait for Ready (default 120 s); the session is deleted when it runs out. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface ListSessionsOptions {
  namespace?: string;
  allNamespaces?: boolean;
  labelSelector?: string | Record<string, string>;
  signal?: AbortSignal;
}

export interface ExecOptions {
  /** The command's time limit; then it is interrupted (the shell survives). Default: the daemon's maximum. */
  timeoutMs?: number;
  /** Aborting interrupts the command, as a timeout does. */
  signal?: AbortSignal;
}

export interface ExecResult {
  exitCode: number;
  /** The output (stdout and stderr as the terminal showed them), UTF-8; invalid bytes as U+FFFD. */
  output: string;
  /** The shell's working directory after the command (null when the command ended the shell). */
  cwd: string | null;
  /** The output was longer than the daemon keeps. */
  truncated: boolean;
  /** The command ran out of time and was interrupted (exit code 130, or 137 if it had to be killed). */
  timedOut: boolean;
  durationMs: number;
  outputBytes?: number;
  /** The shell had died and was started again before this command (its state is gone). */
  shellRestarted?: boolean;
  /** The command ended the shell (`exit`); the next one starts a new shell. */
  shellExited?: boolean;
}

export type ExecStreamResult = Omit<ExecResult, 'output'>;

export interface ExecStreamOptions extends ExecOptions {
  /** Chunks as bytes (Uint8Array, exactly as the terminal wrote them) instead of strings. */
  binary?: boolean;
}

/**
 * A command's output as it arrives, then its result. The command starts when the stream is
 * iterated (once) or `result` is awaited; `result` resolves when the command is over. Awaiting
 * `result` without iterating discards the output.
 * Leaving the loop early (break, throw) closes the stream, which interrupts the command.
 */
export interface ExecStream<T extends string | Uint8Array> extends AsyncIterable<T> {
  readonly result: Promise<ExecStreamResult>;
}

export interface WriteFileOptions {
  /** Permission bits of the file (exact, despite the umask), e.g. 0o755. */
  mode?: number;
  /** Append to the file instead of replacing it. */
  append?: boolean;
  /** Fail (ConflictError) if the file exists. */
  exclusive?: boolean;
  signal?: AbortSignal;
  /** Deadline of the whole transfer (default: none). */
  timeoutMs?: number;
}

export interface ReadFileOptions {
  /** First byte to read (default 0). */
  offset?: number;
  /** Bytes to read at most (default: to the end). */
  length?: number;
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface FileEntry {
  name: string;
  type: 'file' | 'dir' | 'symlink' | 'fifo' | 'socket' | 'char' | 'block' | 'unknown';
  size: number;
  /** Permission bits. */
  mode: number;
  mtime: string;
  uid: number;
  gid: number;
  /** A symlink's target. */
  target?: string;
}

export interface TransferOptions {
  signal?: AbortSignal;
  /** Deadline of the whole transfer (default: none). */
  timeoutMs?: number;
}

export interface UploadOptions extends TransferOptions {
  /** Upload what symlinks point to instead of the links (which the sandbox skips). */
  followSymlinks?: boolean;
}

export interface UploadResult {
  /** Where it landed in the sandbox (the file, or the directory extracted into). */
  path: string;
  files: number;
  directories: number;
  bytes: number;
  /** Entries the sandbox did not extract (symlinks, devices, `..` paths), with the reason. */
  skipped: { path: string; type: string; reason: string }[];
}

export interface DownloadResult {
  /** The local path written. */
  path: string;
  type: 'file' | 'dir';
  /** Bytes received (the tar stream's size for a directory). */
  bytes: number;
}

export interface SessionStats {
  timestamp: string;
  cgroup: { path: string; version: string };
  cpu: { usageNanoseconds: number | null; limitCores: number | null };
  memory: { usageBytes: number | null; limitBytes: number | null; oomKills: number | null };
  pids: { current: number | null; limit: number | null };
}

/** The session could not start: it failed, was refused, or was removed while starting. */
export class SessionStartError extends Error {
  override readonly name = 'SessionStartError';
  constructor(
    message: string,
    /** The condition (or status) reason, e.g. ImageNotFound, CreateFailed. */
    readonly reason: string | undefined,
    /** The Session as it was last seen. */
    readonly session: Session | undefined,
  ) {
    super(message);
  }
}

/** A Session to work with. Get one from client.createSession(), getSession() or listSessions(). */
export class SandboxSession implements AsyncDisposable {
  readonly name: string;
  readonly namespace: string;
  /** The Session as last fetched (info() refreshes it). */
  object: Session;

  constructor(
    private readonly client: SandboxClient,
    object: Session,
  ) {
    this.object = object;
    this.name = object.metadata.name!;
    this.namespace = object.metadata.namespace ?? client.namespace;
  }

  /** The name, as the original SDK called it. */
  get id(): string {
    return this.name;
  }

  /** The Session as it is now. */
  async info(opts: { signal?: AbortSignal } = {}): Promise<Session> {
    this.object = await this.client.get('sessions', this.name, { namespace: this.namespace, signal: opts.signal });
    return this.object;
  }

  // ---- exec ----

  /** Runs a command in the session's persistent shell (cd, variables and functions persist). */
  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const res = await this.client.transport.request({
      method: 'POST',
      path: this.sub('exec'),
      headers: { 'content-type': 'application/json' },
      body: execBody(command, opts.timeoutMs),
      signal: opts.signal,
      timeoutMs: execDeadline(opts.timeoutMs),
    });
    this.warn(res.warnings);
    const text = res.body.toString('utf8');
    if (res.status !== 200) throw errorFromStatus(parseStatus(res.status, text));
    return JSON.parse(text) as ExecResult;
  }

  /**
   * Runs a command and yields its output as it arrives: strings by default (a UTF-8 sequence is
   * never split between chunks), Uint8Array with `binary: true`. `await stream.result` after
   * the loop gives the exit code and the rest.
   */
  execStream(command: string, opts?: ExecStreamOptions & { binary?: false }): ExecStream<string>;
  execStream(command: string, opts: ExecStreamOptions & { binary: true }): ExecStream<Uint8Array>;
  execStream(command: string, opts: ExecStreamOptions = {}): ExecStream<string> | ExecStream<Uint8Array> {
    const open = () =>
      this.client.transport.stream({
        method: 'POST',
        path: this.sub('exec'),
        query: opts.binary ? { encoding: 'base64' } : undefined,
        headers: { 'content-type': 'application/json', accept: 'application/x-ndjson' },
        body: execBody(command, opts.timeoutMs),
        signal: opts.signal,
      });
    const warn = (w: string[]) => this.warn(w);
    return opts.binary ? new ExecStreamImpl<Uint8Array>(open, true, opts.signal, warn) : new ExecStreamImpl<string>(open, false, opts.signal, warn);
  }

  // ---- files ----

  /**
   * Writes a file (parent directories are created): a string (UTF-8), bytes, or a stream of
   * bytes (a Readable or any async iterable), which is sent as it is read.
   */
  async write(path: string, data: string | Uint8Array | Readable | AsyncIterable<Uint8Array>, opts: WriteFileOptions = {}): Promise<{ path: string; bytes: number }> {
    const query: Record<string, QueryValue> = { path: remotePath(path) };
    if (opts.mode !== undefined) query.mode = octal(opts.mode);
    if (opts.append) query.append = 'true';
    if (opts.exclusive) query.exclusive = 'true';
    const body: RequestBody = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    return this.json<{ path: string; bytes: number }>({
      method: 'PUT',
      path: this.sub('fs'),
      query,
      headers: { 'content-type': 'application/octet-stream' },
      body,
      signal: opts.signal,
      timeoutMs: opts.timeoutMs ?? 0,
    });
  }

  /** writeText(path, text) is write(path, text): the original SDK's name. */
  writeText(path: string, text: string, opts: WriteFileOptions = {}): Promise<{ path: string; bytes: number }> {
    return this.write(path, text, opts);
  }

  /** A file's bytes (or `length` of them from `offset`). */
  async read(path: string, opts: ReadFileOptions = {}): Promise<Uint8Array> {
    const chunks: Buffer[] = [];
    for await (const c of this.readStream(path, opts)) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  /** A file as UTF-8 text (invalid bytes as U+FFFD). */
  async readText(path: string, opts: ReadFileOptions = {}): Promise<string> {
    return Buffer.from(await this.read(path, opts)).toString('utf8');
  }

  /** A file's bytes as a stream (for large files: nothing is held in memory). */
  readStream(path: string, opts: ReadFileOptions = {}): Readable {
    const { offset = 0, length } = opts;
    checkRange(offset, length);
    const self = this;
    async function* gen(): AsyncGenerator<Buffer> {
      if (length === 0) {
        // Still an error for a path that is no file.
        await self.stat(path, opts);
        return;
      }
      const headers: Record<string, string> = { accept: 'application/octet-stream' };
      if (offset > 0 || length !== undefined) headers.range = `bytes=${offset}-${length !== undefined ? offset + length - 1 : ''}`;
      const res = await self.client.transport.stream({ method: 'GET', path: self.sub('fs'), query: { path: remotePath(path) }, headers, idempotent: true, signal: opts.signal, timeoutMs: opts.timeoutMs });
      try {
        // Past the end of the file: nothing to read (as pread).
        if (res.status === 416) return;
        if (res.status !== 200 && res.status !== 206) throw errorFromStatus(parseStatus(res.status, await res.text()));
        if (String(res.headers['content-type'] ?? '').startsWith('application/json')) {
          await res.text();
          throw isADirectory(path);
        }
        // A server that ignored the Range answers 200 with the whole file: cut it here.
        let skip = res.status === 200 ? offset : 0;
        let left = res.status === 200 && length !== undefined ? length : Infinity;
        for await (const chunk of res.body) {
          let c = chunk;
          if (skip > 0) {
            const n = Math.min(skip, c.length);
            skip -= n;
            c = c.subarray(n);
          }
          if (c.length > left) c = c.subarray(0, left);
          left -= c.length;
          if (c.length > 0) yield c;
          if (left <= 0) break;
        }
      } finally {
        res.close();
      }
    }
    return Readable.from(gen(), { objectMode: false });
  }

  /** A file's or directory's metadata (lstat: symlinks are not followed). */
  async stat(path: string, opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<FileEntry & { path: string }> {
    return this.json({ method: 'GET', path: this.sub('fs'), query: { path: remotePath(path), stat: 'true' }, idempotent: true, signal: opts.signal, timeoutMs: opts.timeoutMs });
  }

  /** A directory's entries, sorted by name. */
  async list(path = WORKSPACE_DIR, opts: { signal?: AbortSignal } = {}): Promise<FileEntry[]> {
    const r = await this.json<{ entries: FileEntry[] }>({ method: 'GET', path: this.sub('fs'), query: { path: remotePath(path), list: 'true' }, idempotent: true, signal: opts.signal });
    return r.entries;
  }

  /** mkdir -p; true when it was created. */
  async mkdir(path: string, opts: { mode?: number; signal?: AbortSignal } = {}): Promise<boolean> {
    const query: Record<string, QueryValue> = { path: remotePath(path), op: 'mkdir' };
    if (opts.mode !== undefined) query.mode = octal(opts.mode);
    const r = await this.json<{ created: boolean }>({ method: 'POST', path: this.sub('fs'), query, idempotent: true, signal: opts.signal });
    return r.created;
  }

  /** Removes a file, symlink or empty directory; `recursive` removes a directory with its contents. */
  async remove(path: string, opts: { recursive?: boolean; signal?: AbortSignal } = {}): Promise<void> {
    await this.json({ method: 'DELETE', path: this.sub('fs'), query: { path: remotePath(path), recursive: opts.recursive ? 'true' : undefined }, idempotent: true, signal: opts.signal });
  }

  /**
   * Copies into the sandbox, streamed. A local file lands as `remoteDir/<its name>`; a local
   * directory's contents are extracted into `remoteDir` (as a tar stream); a stream is taken as
   * a tar archive (plain or gzip) and extracted into `remoteDir`. Directories are created.
   */
  async upload(source: string | Readable | AsyncIterable<Uint8Array>, remoteDir: string, opts: UploadOptions = {}): Promise<UploadResult> {
    const dir = remotePath(remoteDir);
    if (typeof source === 'string') {
      const st = await (opts.followSymlinks ? stat(source) : lstat(source));
      if (st.isFile()) {
        const target = posix.join(dir, basename(source));
        const r = await this.write(target, createReadStream(source), { mode: st.mode & 0o777, signal: opts.signal, timeoutMs: opts.timeoutMs });
        return { path: r.path, files: 1, directories: 0, bytes: r.bytes, skipped: [] };
      }
      if (!st.isDirectory()) throw new TypeError(`cannot upload ${source}: not a regular file or directory`);
      return this.uploadTar(await packDirectory(source, opts.followSymlinks === true), dir, opts);
    }
    return this.uploadTar(source, dir, opts);
  }

  /**
   * Copies out of the sandbox, streamed. A file is written to `localPath` (inside it, under the
   * file's name, when `localPath` is an existing directory); a directory's contents are extracted
   * into `localPath` (created). Files appear complete or not at all.
   */
  async download(remote: string, localPath: string, opts: TransferOptions = {}): Promise<DownloadResult> {
    const path = remotePath(remote);
    const info = await this.stat(path, opts);
    if (info.type === 'dir') {
      await mkdir(localPath, { recursive: true });
      const res = await this.client.transport.stream({ method: 'GET', path: this.sub('fs'), query: { path, format: 'tar' }, headers: { accept: 'application/x-tar' }, idempotent: true, signal: opts.signal, timeoutMs: opts.timeoutMs ?? 0 });
      try {
        if (res.status !== 200) throw errorFromStatus(parseStatus(res.status, await res.text()));
        const bytes = await extractInto(localPath, res.body);
        return { path: localPath, type: 'dir', bytes };
      } finally {
        res.close();
      }
    }
    if (info.type !== 'file') throw new TypeError(`cannot download ${path}: it is a ${info.type}, not a file or directory`);
    let dest = localPath;
    if ((await stat(localPath).catch(() => undefined))?.isDirectory()) dest = join(localPath, posix.basename(path));
    const part = join(dirname(dest), `.${basename(dest)}.part-${process.pid}-${Date.now().toString(36)}`);
    let bytes = 0;
    const counted = async function* (src: AsyncIterable<Buffer>) {
      for await (const c of src) {
        bytes += c.length;
        yield c;
      }
    };
    try {
      await pipeline(this.readStream(path, opts), counted, createWriteStream(part, { mode: info.mode & 0o777 }));
      await rename(part, dest);
    } catch (e) {
      await rm(part, { force: true });
      throw e;
    }
    return { path: dest, type: 'file', bytes };
  }

  // ---- stats, terminal, lifetime ----

  /**
   * CPU, memory and process figures of the session's cgroup (null: unlimited or unknown).
   * `activity: false` for monitors: reading them then does not count as activity (which would
   * keep an idle session from expiring).
   */
  async stats(opts: { activity?: boolean; signal?: AbortSignal } = {}): Promise<SessionStats> {
    return this.json({ method: 'GET', path: this.sub('stats'), query: { activity: opts.activity === false ? 'false' : undefined }, idempotent: true, signal: opts.signal });
  }

  /** Opens an interactive terminal (a login shell on a PTY) in the session. */
  attach(opts: AttachOptions = {}): Promise<TerminalConnection> {
    return attachSession(this.client.transport, this.namespace, this.name, opts);
  }

  /** Deletes the session and waits until it is gone (sandbox removed). Idempotent. */
  async destroy(opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    await destroySession(this.client, this.namespace, this.name, this.object.metadata.uid, opts);
  }

  /** `await using session = await client.createSession()`: destroyed when the block ends. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.destroy();
  }

  private sub(subresource: string): string {
    return resourcePath(SESSIONS, this.namespace, this.name, subresource);
  }

  private warn(warnings: string[]): void {
    this.client.reportWarnings(warnings);
  }

  private async json<T>(req: HttpRequest): Promise<T> {
    const res = await this.client.transport.request(req);
    this.warn(res.warnings);
    const text = res.body.toString('utf8');
    if (res.status < 200 || res.status > 299) throw errorFromStatus(parseStatus(res.status, text));
    return JSON.parse(text) as T;
  }

  private async uploadTar(archive: Readable | AsyncIterable<Uint8Array>, dir: string, opts: TransferOptions): Promise<UploadResult> {
    return this.json<UploadResult>({
      method: 'PUT',
      path: this.sub('fs'),
      query: { path: dir, format: 'tar' },
      headers: { 'content-type': 'application/x-tar' },
      body: archive,
      signal: opts.signal,
      timeoutMs: opts.timeoutMs ?? 0,
    });
  }
}

// ---- the client's session calls ----

export async function createSession(client: SandboxClient, opts: CreateSessionOptions = {}): Promise<SandboxSession> {
  const namespace = opts.namespace || client.namespace;
  const spec: SessionSpec = { ...opts.spec };
  if (opts.image) spec.image = opts.image;
  if (opts.ttlSeconds !== undefined) spec.ttlSeconds = opts.ttlSeconds;
  if (opts.resources) spec.resources = opts.resources;
  if (opts.env) spec.env = Array.isArray(opts.env) ? opts.env : Object.entries(opts.env).map(([name, value]) => ({ name, value }));
  if (opts.workspace) {
    await ensureWorkspace(client, namespace, opts.workspace, opts.signal);
    spec.workspace = opts.workspace;
  }
  const manifest: Session = {
    apiVersion: 'sandkasten.dev/v1',
    kind: 'Session',
    metadata: { ...(opts.name ? { name: opts.name } : { generateName: 's-' }), namespace, ...(opts.labels ? { labels: opts.labels } : {}) },
    spec,
  };
  const created = await client.create(manifest, { signal: opts.signal });
  const name = created.metadata.name!;
  try {
    const ready = await waitUntilStarted(client, created, opts.timeoutMs ?? DEFAULT_CREATE_TIMEOUT_MS, opts.signal);
    return new SandboxSession(client, ready);
  } catch (e) {
    // Nothing is left behind by a session that did not start.
    await destroySession(client, namespace, name, created.metadata.uid, { timeoutMs: 60_000 }).catch(() => undefined);
    throw e;
  }
}

export async function getSession(client: SandboxClient, name: string, opts: { namespace?: string; signal?: AbortSignal } = {}): Promise<SandboxSession> {
  return new SandboxSession(client, await client.get('sessions', name, opts));
}

export async function listSessions(client: SandboxClient, opts: ListSessionsOptions = {}): Promise<SandboxSession[]> {
  const l = await client.list('sessions', opts);
  return l.items.map((s) => new SandboxSession(client, s));
}

export async function destroySession(client: SandboxClient, namespace: string, name: string, uid: string | undefined, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
  try {
    await client.delete('sessions', name, { namespace, signal: opts.signal, preconditions: uid ? { uid } : undefined });
  } catch (e) {
    if (e instanceof NotFoundError) return;
    // A precondition failure: the name now belongs to another session, not ours to delete.
    if (e instanceof ApiError && e.code === 409 && uid) return;
    throw e;
  }
  await client.waitForDeletion('sessions', name, { namespace, uid, timeoutMs: opts.timeoutMs ?? 60_000, signal: opts.signal });
}

async function ensureWorkspace(client: SandboxClient, namespace: string, name: string, signal: AbortSignal | undefined): Promise<void> {
  try {
    await client.get('workspaces', name, { namespace, signal });
    return;
  } catch (e) {
    if (!(e instanceof NotFoundError)) throw e;
  }
  const ws: Workspace = { apiVersion: 'sandkasten.dev/v1', kind: 'Workspace', metadata: { name, namespace }, spec: { reclaimPolicy: 'Retain' } };
  try {
    await client.create(ws, { signal });
  } catch (e) {
    if (!(e instanceof ApiError && e.reason === 'AlreadyExists')) throw e;
  }
}

/**
 * Watches the new Session until it is Ready; throws SessionStartError when it fails, is refused
 * (a Pending reason the controller does not retry), or its image is neither on the host nor
 * being pulled; TimeoutError after timeoutMs.
 */
async function waitUntilStarted(client: SandboxClient, created: Session, timeoutMs: number, signal: AbortSignal | undefined): Promise<Session> {
  const name = created.metadata.name!;
  const namespace = created.metadata.namespace ?? client.namespace;
  const uid = created.metadata.uid;
  const ac = new AbortController();
  let timedOut = false;
  const timer = timeoutMs > 0 ? setTimeout(() => ((timedOut = true), ac.abort()), timeoutMs) : undefined;
  const onAbort = () => ac.abort(signal!.reason);
  if (signal?.aborted) ac.abort(signal.reason);
  else signal?.addEventListener('abort', onAbort, { once: true });
  let last: Session | undefined = created;
  const imagesChecked = new Set<string>();
  try {
    const decide = async (s: Session | undefined): Promise<Session | undefined> => {
      if (!s || (uid && s.metadata.uid !== uid)) throw new SessionStartError(`session ${name} was deleted while it was starting`, 'Deleted', last);
      last = s;
      const phase = s.status?.phase;
      if (s.metadata.deletionTimestamp) throw new SessionStartError(`session ${name} is being deleted`, 'Terminating', s);
      if (phase === 'Ready') return s;
      const ready = condition(s, 'Ready');
      if (phase === 'Failed' || phase === 'Expired') {
        const why = ready?.message ?? s.status?.message ?? phase;
        throw new SessionStartError(`session ${name} ${phase === 'Failed' ? 'failed to start' : 'expired'}: ${why}`, s.status?.reason ?? ready?.reason ?? phase, s);
      }
      const image = condition(s, 'ImageReady');
      if (phase === 'Pending' && ready?.status === 'False' && ready.reason && !TRANSIENT_PENDING.has(ready.reason)) {
        const c = image?.status === 'False' ? image : ready;
        throw new SessionStartError(`session ${name} was refused: ${c.message ?? c.reason}`, c.reason, s);
      }
      if (image?.status === 'False' && image.reason === 'ImageNotFound') {
        // Missing on the host: worth waiting for only while an Image of that name is being pulled.
        const imageName = s.spec?.image ?? '';
        if (!imagesChecked.has(imageName)) {
          imagesChecked.add(imageName);
          let img: Image | undefined;
          try {
            img = await client.get('images', imageName, { signal: ac.signal });
          } catch (e) {
            if (!(e instanceof NotFoundError)) throw e;
          }
          if (!img) throw new SessionStartError(`session ${name}: ${image.message ?? `image "${imageName}" not found`}`, 'ImageNotFound', s);
          if (img.status?.phase === 'Failed') throw new SessionStartError(`session ${name}: image "${imageName}" failed: ${img.status.message ?? img.status.reason ?? 'Failed'}`, 'ImageFailed', s);
        }
      }
      return undefined;
    };
    let obj = await client.get('sessions', name, { namespace, signal: ac.signal });
    const now = await decide(obj);
    if (now) return now;
    for await (const ev of client.watch('sessions', { namespace, fieldSelector: `metadata.name=${name}`, resourceVersion: obj.metadata.resourceVersion, known: [obj], signal: ac.signal })) {
      obj = ev.object;
      const r = await decide(ev.type === 'DELETED' ? undefined : obj);
      if (r) return r;
    }
    throw stopped();
  } catch (e) {
    if (ac.signal.aborted && !(e instanceof SessionStartError)) throw stopped();
    throw e;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
    ac.abort();
  }

  function stopped(): Error {
    if (!timedOut) return (signal?.reason as Error | undefined) ?? new Error('aborted');
    const why = last ? (condition(last, 'Ready')?.message ?? last.status?.phase) : undefined;
    return clientTimeout(`session ${name} did not become Ready within ${timeoutMs} ms${why ? ` (${why})` : ''}`);
  }
}

// ---- exec streams ----

type ExecLine = { type: 'output'; data: string | Buffer } | { type: 'result'; result: ExecStreamResult };

class ExecStreamImpl<T extends string | Uint8Array> implements ExecStream<T> {
  private started = false;
  private readonly resultPromise: Promise<ExecStreamResult>;
  private settle!: { resolve: (r: ExecStreamResult) => void; reject: (e: unknown) => void };

  constructor(
    private readonly open: () => Promise<StreamResponse>,
    private readonly binary: boolean,
    private readonly signal: AbortSignal | undefined,
    private readonly warn: (w: string[]) => void,
  ) {
    this.resultPromise = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    // A caller that only iterates (and gets the error there) leaves this one unobserved.
    this.resultPromise.catch(() => undefined);
  }

  get result(): Promise<ExecStreamResult> {
    // Not iterated by the time the caller's synchronous code is done: drain it for the result.
    setImmediate(() => {
      if (this.started) return;
      void (async () => {
        for await (const _ of this) {
          // discarded
        }
      })().catch(() => undefined);
    });
    return this.resultPromise;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    if (this.started) throw new Error('an exec stream can be iterated only once');
    this.started = true;
    let done = false;
    try {
      const res = await this.open();
      try {
        this.warn(res.warnings);
        if (res.status !== 200) throw errorFromStatus(parseStatus(res.status, await res.text()));
        for await (const line of execLines(res.body, this.binary)) {
          if (line.type === 'output') yield line.data as T;
          else {
            done = true;
            this.settle.resolve(line.result);
          }
        }
        if (!done) throw new Error('the exec stream ended without a result (the connection was lost)');
      } finally {
        res.close();
      }
    } catch (e) {
      const err = this.signal?.aborted ? ((this.signal.reason as Error | undefined) ?? e) : e;
      this.settle.reject(err);
      throw err;
    } finally {
      // Left early (break): the command was interrupted by closing the stream.
      if (!done) this.settle.reject(new Error('the exec stream was closed before the command finished (it was interrupted)'));
    }
  }
}

async function* execLines(body: AsyncIterable<Buffer>, binary: boolean): AsyncGenerator<ExecLine> {
  const decoder = new TextDecoder();
  let pending = '';
  const parse = (line: string): ExecLine | undefined => {
    if (line.trim() === '') return undefined;
    let ev: { type?: string; data?: unknown; encoding?: string; status?: Status } & Record<string, unknown>;
    try {
      ev = JSON.parse(line) as typeof ev;
    } catch {
      throw new Error(`malformed exec stream line: ${line.slice(0, 200)}`);
    }
    if (ev.type === 'output' && typeof ev.data === 'string') {
      if (!binary) return { type: 'output', data: ev.data };
      return { type: 'output', data: ev.encoding === 'base64' ? Buffer.from(ev.data, 'base64') : Buffer.from(ev.data, 'utf8') };
    }
    if (ev.type === 'result') {
      const { type: _t, ...result } = ev;
      return { type: 'result', result: result as unknown as ExecStreamResult };
    }
    if (ev.type === 'error' && ev.status) throw errorFromStatus({ ...ev.status, code: ev.status.code ?? 500 });
    return undefined;
  };
  for await (const chunk of body) {
    pending += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const ev = parse(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
      if (ev) yield ev;
    }
  }
  const ev = parse(pending + decoder.decode());
  if (ev) yield ev;
}

// ---- helpers ----

function execBody(command: string, timeoutMs: number | undefined): string {
  if (typeof command !== 'string' || command === '') throw new TypeError('exec needs a command (a non-empty string)');
  if (timeoutMs !== undefined && (!Number.isInteger(timeoutMs) || timeoutMs <= 0)) throw new TypeError(`timeoutMs must be a positive integer (milliseconds), not ${timeoutMs}`);
  return JSON.stringify(timeoutMs === undefined ? { command } : { command, timeoutMs });
}

/** The request's own deadline: the command's limit and some slack, or none (the daemon's limit applies). */
function execDeadline(timeoutMs: number | undefined): number {
  return timeoutMs === undefined ? 0 : timeoutMs + 30_000;
}

/** An absolute sandbox path; relative ones are taken from /workspace. */
export function remotePath(p: string): string {
  if (typeof p !== 'string' || p === '') throw new TypeError('a path in the sandbox is required');
  if (p.includes('\0')) throw new TypeError('a path cannot contain NUL bytes');
  return p.startsWith('/') ? p : posix.join(WORKSPACE_DIR, p);
}

function octal(mode: number): string {
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) throw new TypeError(`invalid mode ${mode}: expected permission bits such as 0o644`);
  return '0' + mode.toString(8);
}

function checkRange(offset: number, length: number | undefined): void {
  if (!Number.isSafeInteger(offset) || offset < 0) throw new TypeError(`offset must be a non-negative integer, not ${offset}`);
  if (length !== undefined && (!Number.isSafeInteger(length) || length < 0)) throw new TypeError(`length must be a non-negative integer, not ${length}`);
}

function isADirectory(path: string): Error {
  return new ApiError({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 400, reason: 'BadRequest', message: `read ${remotePath(path)}: is a directory (use list() or download())` });
}

const condition = (s: Session, type: string): Condition | undefined => s.status?.conditions?.find((c) => c.type === type);

/** A tar stream of a local directory's contents (names relative to it). */
async function packDirectory(dir: string, follow: boolean): Promise<AsyncIterable<Uint8Array>> {
  const names = (await readdir(dir)).sort();
  // An empty directory: an archive of nothing (two zero blocks), which creates the target.
  if (names.length === 0) return Readable.from([Buffer.alloc(1024)]);
  const tar = await import('tar');
  // Names relative to the directory (no "./"); portable: no uids, user names or device numbers
  // of this host in the archive.
  return tar.create({ cwd: dir, portable: true, follow }, names) as unknown as AsyncIterable<Uint8Array>;
}

/** Extracts a tar stream into a local directory; returns the archive's size. */
async function extractInto(dir: string, source: AsyncIterable<Buffer>): Promise<number> {
  const tar = await import('tar');
  let failure: Error | undefined;
  const unpack = tar.extract({
    cwd: dir,
    // Files belong to whoever downloads them, as with cp; entries are kept inside `dir` (no
    // absolute paths, no `..`, nothing written through a symlink).
    preserveOwner: false,
    filter: (_p, entry) => {
      const t = (entry as { type?: string }).type;
      return t === 'File' || t === 'OldFile' || t === 'ContiguousFile' || t === 'Directory' || t === 'SymbolicLink';
    },
    onwarn: (code, message) => {
      if (code === 'TAR_BAD_ARCHIVE' || code === 'TAR_ABORT') failure ??= new Error(`the archive is broken: ${String(message)}`);
    },
  });
  const done = new Promise<void>((resolve, reject) => {
    unpack.on('close', () => resolve());
    unpack.on('error', (e: Error) => reject(e));
  });
  let bytes = 0;
  for await (const c of source) {
    bytes += c.length;
    if (!unpack.write(c)) await new Promise<void>((r) => unpack.once('drain', () => r()));
  }
  unpack.end();
  await done;
  if (failure) throw failure;
  return bytes;
}
