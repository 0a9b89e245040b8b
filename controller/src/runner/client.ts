// RunnerClient: talks to a sandbox's runner over its unix socket (runner/PROTOCOL.md).
//
// One operation runs per connection at a time; the client keeps a few idle connections to reuse
// (an exec round trip then costs no connect) and opens more for concurrent operations. Large
// data never sits whole in memory: file reads and exec output come as streams with backpressure,
// uploads are pulled from an (async) iterable chunk by chunk.

import net from 'node:net';
import { Readable } from 'node:stream';
import {
  DATA_CHUNK,
  Flag,
  Frame,
  FrameDecoder,
  Tag,
  decodeByteString,
  encodeFrame,
  encodeRequest,
  parseJson,
  toBytes,
  type Field,
} from './protocol.js';

/** A failure reported by the runner (code ENOENT, EACCES, BUSY, …) or met talking to it. */
export class RunnerError extends Error {
  override readonly name = 'RunnerError';
  /**
   * The errno name (ENOENT, EACCES, EEXIST, ENOTDIR, EISDIR, ENOTEMPTY, EINVAL, ELOOP, …) or one
   * of BUSY, SHELL_UNAVAILABLE, BAD_REQUEST, SHUTTING_DOWN, CANCELLED, PROTOCOL (runner side) and
   * UNAVAILABLE (cannot connect), CONNECTION_LOST, ABORTED (client side).
   */
  readonly code: string;
  readonly errno: number | undefined;
  /** The operation that failed: exec, run, fs.read, … */
  readonly op: string;

  constructor(code: string, message: string, options: { errno?: number; op?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.errno = options.errno || undefined;
    this.op = options.op ?? '';
  }
}

export interface ExecOptions {
  /** Interrupt the command after this long (SIGINT, then SIGKILL); 0 or absent: no limit. */
  timeoutMs?: number;
  /** Called with each output chunk as it arrives. */
  onChunk?: (chunk: Buffer) => void;
  /** Aborting interrupts the command like a timeout; the result then has cancelled: true. */
  signal?: AbortSignal;
}

export interface ExecResult {
  /** The command's terminal output (stdout and stderr interleaved), at most the output cap. */
  output: Buffer;
  /** The shell's $?: 130 after SIGINT, 137 after SIGKILL; the shell's status if it exited. */
  exitCode: number;
  /** Working directory after the command; null when the shell exited. */
  cwd: string | null;
  /** The cwd's bytes, present only when they are not valid UTF-8. */
  rawCwd?: Buffer;
  durationMs: number;
  timedOut: boolean;
  cancelled: boolean;
  /** Output past the runner's cap was dropped (the command still ran to its end). */
  truncated: boolean;
  /** Bytes the command wrote, including dropped ones. */
  outputBytes: number;
  /** The shell had died since the previous exec and was replaced: its state was reset. */
  shellRestarted: boolean;
  /** The command ended the shell (`exit`, or it could not be interrupted otherwise). */
  shellExited: boolean;
}

/**
 * exec output as a stream (AsyncIterable<Buffer>), with the result once it ends. Consume the
 * stream: a full buffer holds the command back. Destroying it early (or leaving a for-await
 * loop) interrupts the command, as a cancel does.
 */
export interface ExecStream extends AsyncIterable<Buffer> {
  readonly stream: Readable;
  /** Resolves after the last chunk; `output` is empty here (it went through the stream). */
  readonly result: Promise<ExecResult>;
}

export interface RunOptions {
  /** Added to (and overriding) the sandbox's environment. */
  env?: Record<string, string>;
  cwd?: string | Uint8Array;
  /** SIGTERM to the process group, then SIGKILL after the runner's kill grace. */
  timeoutMs?: number;
  /** Standard input; without it the process reads /dev/null. */
  stdin?: Uint8Array | string | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  signal?: AbortSignal;
}

export interface RunResult {
  stdout: Buffer;
  stderr: Buffer;
  /** Exit code, or 128 + the signal number. */
  exitCode: number;
  /** SIGKILL, SIGTERM, … when a signal ended it. */
  signal: string | null;
  pid: number;
  durationMs: number;
  timedOut: boolean;
  cancelled: boolean;
  truncated: boolean;
  outputBytes: number;
}

export type FileType = 'file' | 'dir' | 'symlink' | 'fifo' | 'socket' | 'char' | 'block' | 'unknown';

export interface FileInfo {
  name: string;
  /** The name's bytes, present only when they are not valid UTF-8. */
  rawName?: Buffer;
  type: FileType;
  size: number;
  /** Permission bits (0o7777). */
  mode: number;
  mtimeMs: number;
  uid: number;
  gid: number;
  /** Symlink target. */
  target?: string;
  rawTarget?: Buffer;
}

export interface ReadOptions {
  offset?: number;
  length?: number;
  signal?: AbortSignal;
}

export interface WriteOptions {
  /** Permission bits set on the file (exactly, whatever the umask). Default: 0o666 & ~umask on creation. */
  mode?: number;
  /** Append instead of truncating. */
  append?: boolean;
  /** Create missing parent directories. */
  mkdirParents?: boolean;
  /** Fail with EEXIST if the file exists. */
  exclusive?: boolean;
  signal?: AbortSignal;
}

export type WriteSource = Uint8Array | string | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;
export type PathLike = string | Uint8Array;

export interface RunnerInfo {
  protocol: number;
  version: string;
  pid: number;
  pid1: boolean;
  uptimeMs: number;
  shell: string;
  shellPid: number | null;
  shellAlive: boolean;
  shellState: 'down' | 'starting' | 'idle' | 'busy' | 'failed';
  execs: number;
  connections: number;
  fsRoot: string;
  outputCap: number;
}

export interface SignalResult {
  signal: string;
  /** Where it went: the foreground job's process group, or the shell (running a builtin). */
  target: 'job' | 'shell';
  pid: number;
  execRunning: boolean;
}

export interface RunnerClientOptions {
  /** Default 5000. */
  connectTimeoutMs?: number;
  /** Idle connections kept for reuse. Default 4. */
  maxIdleConnections?: number;
}

type Json = Record<string, unknown>;

/** One connection; frames go to the handler of the operation that holds it. */
class Channel {
  readonly socket: net.Socket;
  readonly decoder = new FrameDecoder();
  broken = false;
  #handler: ((type: number, payload: Buffer) => void) | null = null;
  #onLost: ((err: RunnerError) => void) | null = null;

  constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.#data(chunk));
    socket.on('error', (e) => this.#lost(new RunnerError('CONNECTION_LOST', `runner connection: ${e.message}`, { cause: e })));
    socket.on('close', () => this.#lost(new RunnerError('CONNECTION_LOST', 'the runner closed the connection')));
  }

  #data(chunk: Buffer): void {
    let frames;
    try {
      frames = this.decoder.push(chunk);
    } catch (e) {
      this.#lost(new RunnerError('PROTOCOL', `bad frame from the runner: ${(e as Error).message}`));
      return;
    }
    for (const f of frames) {
      if (this.#handler === null) {
        this.#lost(new RunnerError('PROTOCOL', `unexpected frame 0x${f.type.toString(16)} from the runner`));
        return;
      }
      this.#handler(f.type, f.payload);
    }
  }

  #lost(err: RunnerError): void {
    const cb = this.#onLost;
    this.broken = true;
    this.#handler = null;
    this.#onLost = null;
    this.socket.destroy();
    cb?.(err);
  }

  begin(handler: (type: number, payload: Buffer) => void, onLost: (err: RunnerError) => void): void {
    this.#handler = handler;
    this.#onLost = onLost;
    this.socket.ref();
  }

  end(): void {
    this.#handler = null;
    this.#onLost = null;
    // A stream's backpressure may have paused it; the next operation must hear its replies.
    this.socket.resume();
    this.socket.unref();
  }

  get usable(): boolean {
    return !this.broken && !this.socket.destroyed && this.decoder.pending === 0;
  }

  /** Writes a frame; resolves once the socket can take more (or is gone). */
  async send(frame: Buffer): Promise<void> {
    if (this.socket.destroyed) return;
    if (this.socket.write(frame)) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }
}

interface OpSpec {
  op: string;
  request: Buffer;
  /** OUT, ERR, META, ENTRIES frames. */
  onFrame?: (ch: Channel, type: number, payload: Buffer) => void;
  /** Sent as DATA frames after the runner's META go-ahead, then END. */
  upload?: AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
  signal?: AbortSignal;
}

export class RunnerClient {
  readonly socketPath: string;
  readonly #connectTimeoutMs: number;
  readonly #maxIdle: number;
  #idle: Channel[] = [];
  #closed = false;

  constructor(socketPath: string, options: RunnerClientOptions = {}) {
    this.socketPath = socketPath;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    this.#maxIdle = options.maxIdleConnections ?? 4;
  }

  /** Runs a command in the persistent shell and collects its output. */
  async exec(command: string | Uint8Array, options: ExecOptions = {}): Promise<ExecResult> {
    const chunks: Buffer[] = [];
    const json = await this.#operation({
      op: 'exec',
      request: execRequest(command, options.timeoutMs),
      onFrame: (_ch, type, payload) => {
        if (type !== Frame.OUT) return;
        // A small view would keep the whole socket chunk it came from alive: copy it.
        const chunk = Buffer.from(payload);
        chunks.push(chunk);
        options.onChunk?.(chunk);
      },
      signal: options.signal,
    });
    return execResult(json, Buffer.concat(chunks));
  }

  /** Runs a command in the persistent shell; its output streams as it is produced. */
  execStream(command: string | Uint8Array, options: Omit<ExecOptions, 'onChunk'> = {}): ExecStream {
    const { stream, signal, push, end, fail } = frameStream(options.signal);
    const result = this.#operation({
      op: 'exec',
      request: execRequest(command, options.timeoutMs),
      onFrame: (ch, type, payload) => {
        if (type === Frame.OUT) push(ch, Buffer.from(payload));
      },
      signal,
    }).then(
      (json) => {
        end();
        return execResult(json, Buffer.alloc(0));
      },
      (err: unknown) => {
        fail(err);
        throw err;
      },
    );
    // The error reaches the caller through the stream or the promise, whichever they use.
    result.catch(() => {});
    return { stream, result, [Symbol.asyncIterator]: () => stream[Symbol.asyncIterator]() };
  }

  /** Runs a process directly (not through the shell), stdout and stderr apart. */
  async run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    if (argv.length === 0) throw new RunnerError('BAD_REQUEST', 'run: argv is empty', { op: 'run' });
    const fields: Field[] = argv.map((a) => [Tag.ARG, a] as const);
    for (const [k, v] of Object.entries(options.env ?? {})) fields.push([Tag.ENV, `${k}=${v}`]);
    if (options.cwd !== undefined) fields.push([Tag.CWD, options.cwd]);
    if (options.timeoutMs) fields.push([Tag.TIMEOUT_MS, options.timeoutMs]);
    if (options.stdin !== undefined) fields.push([Tag.FLAGS, Flag.STDIN]);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const json = await this.#operation({
      op: 'run',
      request: encodeRequest(Frame.RUN, fields),
      upload: options.stdin === undefined ? undefined : toIterable(options.stdin),
      onFrame: (_ch, type, payload) => {
        if (type === Frame.OUT || type === Frame.ERR) {
          const chunk = Buffer.from(payload);
          (type === Frame.OUT ? out : err).push(chunk);
          (type === Frame.OUT ? options.onStdout : options.onStderr)?.(chunk);
        }
      },
      signal: options.signal,
    });
    return {
      stdout: Buffer.concat(out),
      stderr: Buffer.concat(err),
      exitCode: num(json, 'exitCode'),
      signal: json.signal === null ? null : str(json, 'signal'),
      pid: num(json, 'pid'),
      durationMs: num(json, 'durationMs'),
      timedOut: bool(json, 'timedOut'),
      cancelled: bool(json, 'cancelled'),
      truncated: bool(json, 'truncated'),
      outputBytes: num(json, 'outputBytes'),
    };
  }

  /** Sends a signal (SIGINT, "TERM", 9, …) to the shell's foreground job. */
  async signal(sig: string | number): Promise<SignalResult> {
    const json = await this.#operation({ op: 'signal', request: encodeRequest(Frame.SIGNAL, [[Tag.SIGNAL, String(sig)]]) });
    return {
      signal: str(json, 'signal'),
      target: str(json, 'target') as SignalResult['target'],
      pid: num(json, 'pid'),
      execRunning: bool(json, 'execRunning'),
    };
  }

  /** Opens a file for reading: its stat first, then its bytes as a stream. */
  async openRead(path: PathLike, options: ReadOptions = {}): Promise<{ info: FileInfo; stream: Readable }> {
    const { stream, info } = this.#read(path, options);
    return { info: await info, stream };
  }

  /**
   * Reads a file as a stream (AsyncIterable<Buffer>); errors (ENOENT, …) arrive as the stream's
   * error. Destroying the stream early cancels the read.
   */
  readFile(path: PathLike, options: ReadOptions = {}): Readable {
    const { stream, info } = this.#read(path, options);
    info.catch(() => {});
    return stream;
  }

  #read(path: PathLike, options: ReadOptions): { stream: Readable; info: Promise<FileInfo> } {
    const { stream, signal, push, end, fail } = frameStream(options.signal);
    let gotInfo!: (info: FileInfo) => void;
    let noInfo!: (err: unknown) => void;
    const info = new Promise<FileInfo>((resolve, reject) => {
      gotInfo = resolve;
      noInfo = reject;
    });
    const fields: Field[] = [[Tag.PATH, path]];
    if (options.offset) fields.push([Tag.OFFSET, options.offset]);
    if (options.length !== undefined) fields.push([Tag.LENGTH, options.length]);
    this.#operation({
      op: 'fs.read',
      request: encodeRequest(Frame.FS_READ, fields),
      onFrame: (ch, type, payload) => {
        if (type === Frame.META) gotInfo(fileInfo(parseJson(payload) as Json));
        else if (type === Frame.OUT) push(ch, payload);
      },
      signal,
    }).then(
      () => {
        noInfo(new RunnerError('PROTOCOL', 'fs.read: the runner sent no file info', { op: 'fs.read' }));
        end();
      },
      (err: unknown) => {
        // META comes first or not at all: an error (ENOENT, EISDIR) comes instead of it.
        noInfo(err);
        fail(err);
      },
    );
    return { stream, info };
  }

  /** Reads a whole file into memory (for small files; use readFile for large ones). */
  async readFileBuffer(path: PathLike, options: ReadOptions = {}): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of this.readFile(path, options)) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  /** Writes a file from bytes, a string or a stream of chunks; resolves with the bytes written. */
  async writeFile(path: PathLike, source: WriteSource, options: WriteOptions = {}): Promise<{ bytes: number }> {
    let flags = 0;
    if (options.append) flags |= Flag.APPEND;
    if (options.mkdirParents) flags |= Flag.PARENTS;
    if (options.exclusive) flags |= Flag.EXCL;
    const fields: Field[] = [[Tag.PATH, path]];
    if (options.mode !== undefined) fields.push([Tag.MODE, options.mode]);
    if (flags) fields.push([Tag.FLAGS, flags]);
    const json = await this.#operation({
      op: 'fs.write',
      request: encodeRequest(Frame.FS_WRITE, fields),
      upload: toIterable(source),
      signal: options.signal,
    });
    return { bytes: num(json, 'bytes') };
  }

  async list(path: PathLike): Promise<FileInfo[]> {
    const entries: FileInfo[] = [];
    await this.#operation({
      op: 'fs.list',
      request: encodeRequest(Frame.FS_LIST, [[Tag.PATH, path]]),
      onFrame: (_ch, type, payload) => {
        if (type !== Frame.ENTRIES) return;
        for (const e of parseJson(payload) as Json[]) entries.push(fileInfo(e));
      },
    });
    // Byte order of the names, like `ls` in the C locale.
    return entries.sort((a, b) => Buffer.compare(a.rawName ?? Buffer.from(a.name), b.rawName ?? Buffer.from(b.name)));
  }

  /** lstat: a symlink is reported as such, with its target. */
  async stat(path: PathLike): Promise<FileInfo> {
    return fileInfo(await this.#operation({ op: 'fs.stat', request: encodeRequest(Frame.FS_STAT, [[Tag.PATH, path]]) }));
  }

  async mkdir(path: PathLike, options: { parents?: boolean; mode?: number } = {}): Promise<{ created: boolean }> {
    const fields: Field[] = [[Tag.PATH, path]];
    if (options.mode !== undefined) fields.push([Tag.MODE, options.mode]);
    if (options.parents) fields.push([Tag.FLAGS, Flag.PARENTS]);
    const json = await this.#operation({ op: 'fs.mkdir', request: encodeRequest(Frame.FS_MKDIR, fields) });
    return { created: bool(json, 'created') };
  }

  async remove(path: PathLike, options: { recursive?: boolean } = {}): Promise<void> {
    const fields: Field[] = [[Tag.PATH, path]];
    if (options.recursive) fields.push([Tag.FLAGS, Flag.RECURSIVE]);
    await this.#operation({ op: 'fs.remove', request: encodeRequest(Frame.FS_REMOVE, fields) });
  }

  async rename(from: PathLike, to: PathLike, options: { noReplace?: boolean; mkdirParents?: boolean } = {}): Promise<void> {
    const fields: Field[] = [
      [Tag.PATH, from],
      [Tag.PATH2, to],
    ];
    const flags = (options.noReplace ? Flag.NOREPLACE : 0) | (options.mkdirParents ? Flag.PARENTS : 0);
    if (flags) fields.push([Tag.FLAGS, flags]);
    await this.#operation({ op: 'fs.rename', request: encodeRequest(Frame.FS_RENAME, fields) });
  }

  async info(): Promise<RunnerInfo> {
    const j = await this.#operation({ op: 'info', request: encodeRequest(Frame.INFO) });
    return {
      protocol: num(j, 'protocol'),
      version: str(j, 'version'),
      pid: num(j, 'pid'),
      pid1: bool(j, 'pid1'),
      uptimeMs: num(j, 'uptimeMs'),
      shell: decodeByteString(str(j, 'shell')).text,
      shellPid: j.shellPid === null ? null : num(j, 'shellPid'),
      shellAlive: bool(j, 'shellAlive'),
      shellState: str(j, 'shellState') as RunnerInfo['shellState'],
      execs: num(j, 'execs'),
      connections: num(j, 'connections'),
      fsRoot: decodeByteString(str(j, 'fsRoot')).text,
      outputCap: num(j, 'outputCap'),
    };
  }

  /** Asks the runner to stop: every process gets SIGTERM, then SIGKILL; the sandbox ends. */
  async shutdown(): Promise<void> {
    await this.#operation({ op: 'shutdown', request: encodeRequest(Frame.SHUTDOWN) });
    this.close();
  }

  /** Closes idle connections. Operations in flight finish; later ones connect again. */
  close(): void {
    this.#closed = true;
    for (const ch of this.#idle) ch.socket.destroy();
    this.#idle = [];
  }

  async #connect(): Promise<Channel> {
    return new Promise((resolve, reject) => {
      const socket = net.createConnection(this.socketPath);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new RunnerError('UNAVAILABLE', `connect ${this.socketPath}: timed out after ${this.#connectTimeoutMs} ms`));
      }, this.#connectTimeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new Channel(socket));
      });
      socket.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new RunnerError('UNAVAILABLE', `connect ${this.socketPath}: ${e.message}`, { cause: e }));
      });
    });
  }

  async #acquire(): Promise<Channel> {
    for (let ch = this.#idle.pop(); ch !== undefined; ch = this.#idle.pop()) if (ch.usable) return ch;
    return this.#connect();
  }

  #release(ch: Channel): void {
    ch.end();
    if (!this.#closed && ch.usable && this.#idle.length < this.#maxIdle) this.#idle.push(ch);
    else ch.socket.destroy();
  }

  /** Runs one operation on a connection; resolves with its RESULT, rejects with its ERROR. */
  async #operation(spec: OpSpec): Promise<Json> {
    if (spec.signal?.aborted) throw new RunnerError('ABORTED', `${spec.op}: aborted before it started`, { op: spec.op });
    const ch = await this.#acquire();
    return new Promise<Json>((resolve, reject) => {
      let final: { ok: true; value: Json } | { ok: false; value: RunnerError } | null = null;
      let uploading = false;
      let uploadError: unknown;
      let settled = false;

      const settle = (): void => {
        if (settled || final === null || uploading) return;
        settled = true;
        spec.signal?.removeEventListener('abort', onAbort);
        this.#release(ch);
        if (uploadError !== undefined) reject(uploadError);
        else if (final.ok) resolve(final.value);
        else reject(final.value);
      };
      const lost = (err: RunnerError): void => {
        if (settled) return;
        settled = true;
        spec.signal?.removeEventListener('abort', onAbort);
        reject(new RunnerError(err.code, `${spec.op}: ${err.message}`, { op: spec.op, cause: err.cause }));
      };
      const onAbort = (): void => {
        if (final === null) void ch.send(encodeFrame(Frame.CANCEL));
      };
      const pump = async (source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<void> => {
        uploading = true;
        try {
          outer: for await (const chunk of source) {
            const bytes = toBytes(chunk);
            for (let off = 0; off < bytes.length; off += DATA_CHUNK) {
              if (final !== null || ch.socket.destroyed) break outer;
              await ch.send(encodeFrame(Frame.DATA, bytes.subarray(off, off + DATA_CHUNK)));
            }
          }
        } catch (e) {
          // The source failed: stop the operation; its error is the one to report.
          uploadError = e;
          if (final === null) await ch.send(encodeFrame(Frame.CANCEL));
        }
        await ch.send(encodeFrame(Frame.END));
        uploading = false;
        settle();
      };

      ch.begin((type, payload) => {
        if (type === Frame.RESULT || type === Frame.ERROR) {
          let value: unknown;
          try {
            value = parseJson(payload);
          } catch {
            ch.socket.destroy();
            return;
          }
          final = type === Frame.RESULT ? { ok: true, value: value as Json } : { ok: false, value: runnerError(value as Json, spec.op) };
          settle();
        } else if (type === Frame.META && spec.upload !== undefined && !uploading && final === null) {
          void pump(spec.upload);
        } else {
          spec.onFrame?.(ch, type, payload);
        }
      }, lost);
      spec.signal?.addEventListener('abort', onAbort, { once: true });
      void ch.send(spec.request);
    });
  }
}

/**
 * A Readable fed from frames: when its buffer is full the connection stops reading, and it reads
 * again when the consumer catches up. Its error also rejects the operation's promise, and
 * iterators and pipeline() still see it; the no-op listener only keeps an unobserved stream from
 * crashing the process.
 */
function frameStream(userSignal?: AbortSignal): {
  stream: Readable;
  /** Aborted when the consumer destroys the stream early: the operation is then cancelled. */
  signal: AbortSignal;
  push: (ch: Channel, chunk: Buffer) => void;
  end: () => void;
  fail: (err: unknown) => void;
} {
  const abandon = new AbortController();
  if (userSignal?.aborted) abandon.abort();
  else userSignal?.addEventListener('abort', () => abandon.abort(), { once: true });
  let paused: Channel | null = null;
  const release = (): void => {
    // The operation is over: its channel goes back to the pool and is no longer ours to pause.
    paused?.socket.resume();
    paused = null;
  };
  const stream = new Readable({ highWaterMark: 1 << 20, read: release });
  stream.on('error', () => {});
  let done = false;
  stream.on('close', () => {
    if (done) return;
    release();
    abandon.abort();
  });
  return {
    stream,
    signal: abandon.signal,
    push(ch, chunk) {
      if (stream.destroyed) return; // abandoned: drain until the runner confirms the cancel
      if (!stream.push(chunk) && !done) {
        paused = ch;
        ch.socket.pause();
      }
    },
    end() {
      done = true;
      release();
      stream.push(null);
    },
    fail(err) {
      done = true;
      release();
      stream.destroy(err as Error);
    },
  };
}

function execRequest(command: string | Uint8Array, timeoutMs: number | undefined): Buffer {
  const fields: Field[] = [[Tag.COMMAND, command]];
  if (timeoutMs) fields.push([Tag.TIMEOUT_MS, timeoutMs]);
  return encodeRequest(Frame.EXEC, fields);
}

function execResult(j: Json, output: Buffer): ExecResult {
  const cwd = j.cwd === null ? null : decodeByteString(str(j, 'cwd'));
  return {
    output,
    exitCode: num(j, 'exitCode'),
    cwd: cwd === null ? null : cwd.text,
    ...(cwd?.raw ? { rawCwd: cwd.raw } : {}),
    durationMs: num(j, 'durationMs'),
    timedOut: bool(j, 'timedOut'),
    cancelled: bool(j, 'cancelled'),
    truncated: bool(j, 'truncated'),
    outputBytes: num(j, 'outputBytes'),
    shellRestarted: bool(j, 'shellRestarted'),
    shellExited: bool(j, 'shellExited'),
  };
}

function fileInfo(j: Json): FileInfo {
  const name = decodeByteString(str(j, 'name'));
  const info: FileInfo = {
    name: name.text,
    type: str(j, 'type') as FileType,
    size: num(j, 'size'),
    mode: num(j, 'mode'),
    mtimeMs: num(j, 'mtimeMs'),
    uid: num(j, 'uid'),
    gid: num(j, 'gid'),
  };
  if (name.raw) info.rawName = name.raw;
  if (typeof j.target === 'string') {
    const t = decodeByteString(j.target);
    info.target = t.text;
    if (t.raw) info.rawTarget = t.raw;
  }
  return info;
}

function runnerError(j: Json, op: string): RunnerError {
  const code = typeof j.code === 'string' ? j.code : 'INTERNAL';
  const message = typeof j.message === 'string' ? decodeByteString(j.message).text : 'unknown error';
  return new RunnerError(code, `${op}: ${message}`, { errno: typeof j.errno === 'number' ? j.errno : undefined, op });
}

function toIterable(source: WriteSource): AsyncIterable<Uint8Array> | Iterable<Uint8Array> {
  if (typeof source === 'string') return [Buffer.from(source, 'utf8')];
  if (source instanceof Uint8Array) return [source];
  return source;
}

function num(j: Json, key: string): number {
  const v = j[key];
  if (typeof v !== 'number') throw new RunnerError('PROTOCOL', `runner response: ${key} is not a number`);
  return v;
}

function bool(j: Json, key: string): boolean {
  const v = j[key];
  if (typeof v !== 'boolean') throw new RunnerError('PROTOCOL', `runner response: ${key} is not a boolean`);
  return v;
}

function str(j: Json, key: string): string {
  const v = j[key];
  if (typeof v !== 'string') throw new RunnerError('PROTOCOL', `runner response: ${key} is not a string`);
  return v;
}
