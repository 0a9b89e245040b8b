// The Image reconciler: each Image becomes images/<name>/meta.json (plus its layers) on the host.
//
//   Pending   accepted; the source is checked (oci://, tar://, builtin://host) and allowed_images
//   Pulling   a pull or import runs in the background (not in a worker: pulls take minutes);
//             status.progress is written at most every statusIntervalMs
//   Ready     meta.json matches the spec: status has digest, size, layer count, config
//   Failed    the last attempt failed; retried with backoff (5 s doubling to 5 min) unless the
//             failure cannot change by retrying (no such image, unsupported media type, unsafe
//             archive) — then only a spec change or a pull request brings a new attempt
//   Terminating  deletion waits (finalizer sandkasten.dev/image) while Sessions use the image,
//             naming them; then images/<name> is removed and unreferenced layers and blobs are
//             garbage-collected
//
// "Pull again" without a spec change: set the annotation sandkasten.dev/pull-requested to a new
// value (the CLI's `image pull` does); meta.json records the value it answers.
//
// Images on the host without an Image object (the built-in `base` the daemon prepares, images
// pulled with the daemon stopped) are adopted at start: an Image is created for each.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { formatBytes, type Image, type ImageStatus, type ResolvedConfig, type Session } from '@sandkasten/api-schemas';
import { isAlreadyExists, isNotFound, retryOnConflict, type Client } from '../client/index.js';
import type { EventRecorder } from '../events/index.js';
import {
  collectGarbage,
  credentialsFromAuthFile,
  defaultAuthFiles,
  importTarball,
  parseImageSource,
  prepareBuiltinImage,
  pullImage,
  readImageMeta,
  RegistryClient,
  removeImageDir,
  SourceError,
  type ImageMeta,
  type ImageSource,
  type PullError,
  type PullProgress,
} from '../images/index.js';
import { asPullError } from '../images/pull.js';
import type { Controller, Manager, ReconcileContext, ReconcileResult, RuntimeObject } from '../runtime/index.js';
import { errorMessage, silentLogger, type Logger } from '../runtime/index.js';
import { imageNameOf } from '../sandbox/index.js';
import { setCondition, type Cond } from './conditions.js';

export const IMAGE_FINALIZER = 'sandkasten.dev/image';
export const PULL_REQUEST_ANNOTATION = 'sandkasten.dev/pull-requested';

export interface ImageControllerOptions {
  client: Client;
  manager: Manager;
  config: ResolvedConfig;
  dataDir: string;
  recorder?: EventRecorder;
  logger?: Logger;
  /** Concurrent reconciles (default 2; pulls run apart from them). */
  workers?: number;
  /** Shortest time between two progress writes of one pull (default 500 ms). */
  statusIntervalMs?: number;
  /** Backoff of failed pulls (default 5 s doubling to 5 min). */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Create Images for images on the host that have none (default true). */
  adopt?: boolean;
}

interface Job {
  want: string;
  abort: AbortController;
  done: Promise<void>;
}

interface Failure {
  want: string;
  attempts: number;
  nextAt: number;
  retryable: boolean;
}


/** The Sessions (as namespace/name) whose image is `name`, sorted. */
export function imageUsers(sessions: readonly RuntimeObject[], name: string, config: ResolvedConfig): string[] {
  return sessions
    .filter((s) => imageNameOf(s as unknown as Session, config) === name)
    .map((s) => `${s.metadata.namespace ?? ''}/${s.metadata.name}`)
    .sort();
}

export function imageController(o: ImageControllerOptions): Controller {
  const sessions = o.manager.informer('sessions');
  let controller: Controller | undefined;
  const r = new ImageReconciler(o, () => sessions.list(), (key) => controller?.queue.add(key));
  controller = o.manager.addController({
    name: 'image',
    for: 'images',
    watches: [{ resource: 'sessions', map: (s) => [imageNameOf(s as unknown as Session, o.config)] }],
    reconciler: r,
    workers: o.workers ?? 2,
  });
  const stop = controller.stop.bind(controller);
  controller.stop = async (x) => {
    await stop(x);
    await r.close();
  };
  const log = o.logger ?? silentLogger;
  void (async () => {
    if (o.adopt ?? true) await adoptImages(o.client, o.dataDir, log);
    // Leftovers of pulls a crash interrupted (temp dirs, old partial downloads), and content
    // whose image was removed while the daemon was down.
    try {
      const r = await collectGarbage(o.dataDir);
      if (r.layers.length + r.blobs.length + r.partials.length > 0) {
        log.info(`images: garbage-collected ${r.layers.length} layers, ${r.blobs.length} blobs, ${r.partials.length} partial downloads (${formatBytes(r.bytesFreed)})`);
      }
    } catch (e) {
      log.warn(errorMessage(e));
    }
  })();
  return controller;
}

/** Creates an Image for every images/<name>/meta.json that has none. */
export async function adoptImages(client: Client, dataDir: string, log: Logger = silentLogger): Promise<string[]> {
  const adopted: string[] = [];
  let names: string[];
  try {
    names = readdirSync(join(dataDir, 'images'));
  } catch {
    return adopted;
  }
  for (const name of names) {
    let meta: ImageMeta | undefined;
    try {
      meta = readImageMeta(dataDir, name);
    } catch {
      continue;
    }
    if (!meta || meta.name !== name) continue;
    try {
      if (await client.tryGet('images', '', name)) continue;
      await client.create('images', '', { apiVersion: 'sandkasten.dev/v1', kind: 'Image', metadata: { name }, spec: { source: meta.source } });
      adopted.push(name);
    } catch (e) {
      if (!isAlreadyExists(e)) log.warn(`image ${name}: not adopted: ${errorMessage(e)}`);
    }
  }
  if (adopted.length > 0) log.info(`images adopted from data_dir: ${adopted.join(', ')}`);
  return adopted;
}

class ImageReconciler {
  readonly #o: ImageControllerOptions;
  readonly #client: Client;
  readonly #log: Logger;
  readonly #sessions: () => RuntimeObject[];
  readonly #enqueue: (key: string) => void;
  readonly #jobs = new Map<string, Job>();
  readonly #failures = new Map<string, Failure>();
  /** GC pins of failed pulls, kept until the next attempt or the deletion. */
  readonly #retained = new Map<string, () => void>();
  readonly #registry: RegistryClient;

  constructor(o: ImageControllerOptions, sessions: () => RuntimeObject[], enqueue: (key: string) => void) {
    this.#o = o;
    this.#client = o.client;
    this.#log = o.logger ?? silentLogger;
    this.#sessions = sessions;
    this.#enqueue = enqueue;
    this.#registry = new RegistryClient({
      insecureRegistries: o.config.insecure_registries,
      credentials: (registry) => credentialsFromAuthFile(registry, defaultAuthFiles()),
    });
  }

  async close(): Promise<void> {
    const jobs = [...this.#jobs.values()];
    for (const j of jobs) j.abort.abort(new Error('the controller stops'));
    await Promise.all(jobs.map((j) => j.done));
    for (const release of this.#retained.values()) release();
    this.#retained.clear();
  }

  async reconcile(key: string, ctx: ReconcileContext): Promise<ReconcileResult | void> {
    const name = key;
    let img = await this.#client.tryGet('images', '', name);
    if (!img) {
      await this.#cancel(name);
      this.#failures.delete(name);
      return;
    }
    if (img.metadata.deletionTimestamp) return this.#finalize(img, ctx);
    if (!img.metadata.finalizers?.includes(IMAGE_FINALIZER)) img = await this.#client.addFinalizer('images', '', name, IMAGE_FINALIZER);
    const gen = img.metadata.generation;

    const allowed = this.#o.config.allowed_images;
    if (allowed.length > 0 && !allowed.includes(name)) {
      await this.#cancel(name);
      const message = `image "${name}" is not allowed on this daemon (allowed_images: ${allowed.join(', ')}); nothing is pulled`;
      await this.#fail(img, 'NotAllowed', message, false);
      return;
    }
    let src: ImageSource;
    try {
      src = parseImageSource(img.spec.source);
    } catch (e) {
      if (!(e instanceof SourceError)) throw e;
      await this.#cancel(name);
      await this.#fail(img, 'InvalidSource', e.message, false);
      return;
    }
    const request = img.metadata.annotations?.[PULL_REQUEST_ANNOTATION];
    const want = `${src.canonical}\n${request ?? ''}\n${img.spec.pullPolicy === 'Always' ? gen : ''}`;
    const job = this.#jobs.get(name);
    if (job?.want === want) return; // running; it reports and requeues when done
    if (job) await this.#cancel(name);

    let meta: ImageMeta | undefined;
    try {
      meta = readImageMeta(this.#o.dataDir, name);
    } catch (e) {
      ctx.log.warn(`images/${name}/meta.json is unreadable, pulling again: ${errorMessage(e)}`);
    }
    const current =
      meta !== undefined &&
      meta.source === src.canonical &&
      (request === undefined || meta.pullRequest === request) &&
      (img.spec.pullPolicy !== 'Always' || img.status?.observedGeneration === gen);
    if (current) {
      this.#failures.delete(name);
      await this.#writeStatus(img, (s) => this.#readyStatus(s, meta!, gen));
      return;
    }
    const failure = this.#failures.get(name);
    if (failure?.want === want) {
      if (!failure.retryable) return;
      const wait = failure.nextAt - Date.now();
      if (wait > 0) return { requeueAfterMs: wait };
    }
    await this.#start(img, src, want, request, ctx);
  }

  // ---- pulling -------------------------------------------------------------------------------

  async #start(img: Image, src: ImageSource, want: string, request: string | undefined, ctx: ReconcileContext): Promise<void> {
    const name = img.metadata.name!;
    const gen = img.metadata.generation;
    // What the last failed attempt finished stays pinned until this attempt has pinned its own.
    const previousPins = this.#retained.get(name);
    this.#retained.delete(name);
    const what = src.kind === 'oci' ? `pulling ${src.reference.canonical}` : src.kind === 'tar' ? `importing ${src.path}` : 'preparing the built-in image';
    await this.#writeStatus(img, (s) => {
      s.phase = 'Pulling';
      s.reason = 'Pulling';
      s.message = what;
      delete s.progress;
      setCondition(s, { type: 'Ready', status: img.status?.phase === 'Ready' ? 'True' : 'False', reason: 'Pulling', message: what }, gen);
    });
    this.#event(img, 'Normal', 'Pulling', what);
    ctx.log.info(what);
    const abort = new AbortController();
    const t0 = performance.now();
    let lastWrite = 0;
    let pending: PullProgress | undefined;
    let writing: Promise<void> = Promise.resolve();
    const interval = this.#o.statusIntervalMs ?? 500;
    const onProgress = (p: PullProgress) => {
      pending = p;
      const now = Date.now();
      if (now - lastWrite < interval) return;
      lastWrite = now;
      writing = writing.then(() => this.#progress(name, pending!)).catch(() => {});
    };
    const run = async () => {
      const dataDir = this.#o.dataDir;
      if (src.kind === 'oci') {
        const r = await pullImage({
          dataDir,
          name,
          reference: src.reference.canonical,
          source: src.canonical,
          client: this.#registry,
          onProgress,
          signal: abort.signal,
          ...(request !== undefined && { pullRequest: request }),
          keepPinsOnFailure: (release) => this.#retained.set(name, release),
        });
        const secs = ((performance.now() - t0) / 1000).toFixed(1);
        return { meta: r.meta, message: `pulled ${src.reference.canonical} (${r.digest}): ${r.layerCount} layers, ${formatBytes(r.sizeBytes)} unpacked, ${formatBytes(r.downloadedBytes)} downloaded in ${secs} s${r.skipped.length ? `; left out: ${r.skipped.join(', ')}` : ''}` };
      }
      if (src.kind === 'tar') {
        const r = await importTarball({ dataDir, name, path: src.path, onProgress, signal: abort.signal, ...(request !== undefined && { pullRequest: request }) });
        return { meta: r.meta, message: `imported ${src.path} (${r.digest}): ${formatBytes(r.sizeBytes)} unpacked${r.skipped.length ? `; left out: ${r.skipped.join(', ')}` : ''}` };
      }
      const meta = prepareBuiltinImage(dataDir, { name });
      return { meta, message: `prepared the built-in image from this host (${meta.digest})` };
    };
    const done = (async () => {
      const hadLayers = readLayersOf(this.#o.dataDir, name);
      try {
        const r = await run();
        await writing;
        this.#failures.delete(name);
        const fresh = await this.#client.tryGet('images', '', name);
        if (fresh && !fresh.metadata.deletionTimestamp) {
          await this.#writeStatus(fresh, (s) => this.#readyStatus(s, r.meta, fresh.metadata.generation, pending));
          this.#event(fresh, 'Normal', 'Pulled', r.message);
        }
        ctx.log.info(r.message);
        // A pull that replaced content may have left the old layers unused.
        if (hadLayers.some((l) => !r.meta.layers.includes(l))) await this.#gc();
      } catch (e) {
        await writing;
        if (abort.signal.aborted) return;
        const pe = asPullError(e);
        this.#recordFailure(name, want, pe);
        const fresh = await this.#client.tryGet('images', '', name);
        if (fresh && !fresh.metadata.deletionTimestamp) {
          const f = this.#failures.get(name)!;
          const next = pe.retryable ? `; trying again in ${Math.round((f.nextAt - Date.now()) / 1000)} s` : '';
          await this.#fail(fresh, pe.reason, `${pe.message}${next}`, true, pending);
        }
        ctx.log.warn(`${what}: ${pe.message}`);
      } finally {
        previousPins?.();
        if (this.#jobs.get(name)?.abort === abort) this.#jobs.delete(name);
        this.#enqueue(name);
      }
    })();
    this.#jobs.set(name, { want, abort, done });
  }

  #recordFailure(name: string, want: string, e: PullError): void {
    const prev = this.#failures.get(name);
    const attempts = prev?.want === want ? prev.attempts + 1 : 1;
    const base = this.#o.retryBaseMs ?? 5000;
    const delay = Math.min(this.#o.retryMaxMs ?? 300_000, base * 2 ** (attempts - 1));
    this.#failures.set(name, { want, attempts, nextAt: Date.now() + delay, retryable: e.retryable });
  }

  /** Writes the progress of a running pull (only the progress: the rest is the reconcile's). */
  async #progress(name: string, p: PullProgress): Promise<void> {
    const img = await this.#client.tryGet('images', '', name);
    if (!img || img.status?.phase !== 'Pulling') return;
    await this.#writeStatus(img, (s) => {
      s.progress = progressOf(p);
    });
  }

  async #cancel(name: string): Promise<void> {
    const job = this.#jobs.get(name);
    if (!job) return;
    job.abort.abort(new Error('the Image changed'));
    await job.done;
    this.#jobs.delete(name);
  }

  // ---- deletion ------------------------------------------------------------------------------

  async #finalize(img: Image, ctx: ReconcileContext): Promise<void> {
    const name = img.metadata.name!;
    if (!img.metadata.finalizers?.includes(IMAGE_FINALIZER)) return;
    await this.#cancel(name);
    const users = imageUsers(this.#sessions(), name, this.#o.config);
    if (users.length > 0) {
      const message = `in use by ${users.length === 1 ? 'session' : 'sessions'} ${users.join(', ')}; deletion waits until ${users.length === 1 ? 'it is' : 'they are'} gone`;
      const was = img.status?.phase === 'Terminating' && img.status.message === message;
      await this.#writeStatus(img, (s) => {
        s.phase = 'Terminating';
        s.reason = 'InUse';
        s.message = message;
        setCondition(s, { type: 'Ready', status: 'False', reason: 'InUse', message }, img.metadata.generation);
      });
      if (!was) this.#event(img, 'Normal', 'WaitingForSessions', message);
      ctx.log.info(`deletion waits for ${users.join(', ')}`);
      return; // the sessions watch brings this key back when one goes
    }
    removeImageDir(this.#o.dataDir, name);
    this.#retained.get(name)?.();
    this.#retained.delete(name);
    this.#failures.delete(name);
    const freed = await this.#gc();
    this.#event(img, 'Normal', 'Deleted', `removed images/${name}${freed ? `; ${freed}` : ''}`);
    await this.#client.removeFinalizer('images', '', name, IMAGE_FINALIZER);
  }

  /** Garbage collection; a failure is logged, never fatal. Returns a summary, or "". */
  async #gc(): Promise<string> {
    try {
      const r = await collectGarbage(this.#o.dataDir);
      if (r.layers.length + r.blobs.length === 0) return '';
      const s = `garbage-collected ${r.layers.length} layers and ${r.blobs.length} blobs (${formatBytes(r.bytesFreed)})`;
      this.#log.info(s);
      return s;
    } catch (e) {
      this.#log.warn(errorMessage(e));
      return '';
    }
  }

  // ---- status --------------------------------------------------------------------------------

  #readyStatus(s: ImageStatus, meta: ImageMeta, gen: number | undefined, last?: PullProgress): void {
    s.phase = 'Ready';
    delete s.reason;
    delete s.message;
    if (meta.digest) s.digest = meta.digest;
    if (meta.sizeBytes !== undefined) s.sizeBytes = meta.sizeBytes;
    s.layerCount = meta.layers.length;
    s.config = meta.config;
    if (last) s.progress = progressOf(last);
    if (gen !== undefined) s.observedGeneration = gen;
    setCondition(s, { type: 'Ready', status: 'True', reason: 'Pulled', message: `images/${meta.name}/meta.json from ${meta.source}` }, gen);
  }

  async #fail(img: Image, reason: string, message: string, event: boolean, last?: PullProgress): Promise<void> {
    const gen = img.metadata.generation;
    const changed = img.status?.reason !== reason || img.status.phase !== 'Failed';
    await this.#writeStatus(img, (s) => {
      s.phase = 'Failed';
      s.reason = reason;
      s.message = message;
      if (last) s.progress = progressOf(last);
      if (gen !== undefined) s.observedGeneration = gen;
      setCondition(s, { type: 'Ready', status: 'False', reason, message }, gen);
    });
    if (event || changed) this.#event(img, 'Warning', reason === 'NotAllowed' || reason === 'InvalidSource' ? reason : 'Failed', message);
  }

  /** Applies `mutate` to a copy of the status and writes it when it changed (conflicts re-read). */
  async #writeStatus(img: Image, mutate: (s: ImageStatus) => void): Promise<void> {
    let cur: Image | undefined = img;
    await retryOnConflict(async () => {
      if (!cur) cur = await this.#client.tryGet('images', '', img.metadata.name!);
      if (!cur) return;
      const next = structuredClone(cur.status ?? {}) as ImageStatus;
      mutate(next);
      if (JSON.stringify(next) === JSON.stringify(cur.status ?? {})) return;
      try {
        await this.#client.updateStatus('images', { ...cur, status: next });
      } catch (e) {
        cur = undefined;
        if (isNotFound(e)) return;
        throw e;
      }
    });
  }

  #event(img: Image, type: 'Normal' | 'Warning', reason: string, message: string): void {
    this.#o.recorder?.event(img, type, reason, message);
  }
}


export function progressOf(p: PullProgress): NonNullable<ImageStatus['progress']> {
  const pct = p.bytesTotal > 0 ? Math.floor((p.bytesDone / p.bytesTotal) * 100) : p.layersDone === p.layersTotal ? 100 : 0;
  return { ...p, summary: `${pct}% (${p.layersDone}/${p.layersTotal} layers)` };
}

function readLayersOf(dataDir: string, name: string): string[] {
  try {
    return readImageMeta(dataDir, name)?.layers ?? [];
  } catch {
    return [];
  }
}
