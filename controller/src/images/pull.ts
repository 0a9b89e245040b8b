// Pulling an image from a registry into data_dir: manifest (an index resolved to this host's
// platform), config, and the layers — downloaded concurrently, each verified by sha256 while it
// streams and unpacked as it arrives — then images/<name>/meta.json, written last and atomically:
// until then no session sees anything of the new image.
//
// Resuming: a verified blob is never downloaded again, an unpacked layer never unpacked again, and
// an interrupted download goes on from where it stopped (HTTP Range) when the registry allows.

import { createHash } from 'node:crypto';
import { createReadStream, existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { once } from 'node:events';
import type { Credentials } from './registry/auth.js';
import { RegistryClient, RegistryError } from './registry/client.js';
import {
  hostPlatform,
  layerCompression,
  ManifestError,
  parseImageConfig,
  parseManifest,
  selectPlatform,
  type Descriptor,
  type ImageConfigBlob,
  type Platform,
} from './registry/manifest.js';
import { manifestRef, parseReference, ReferenceError, type ImageReference } from './registry/reference.js';
import { writeImageMeta, type ImageConfig, type ImageMeta } from './meta.js';
import { ContentStore, layerRel, pins, type LayerInfo } from './store.js';
import { ArchiveFormatError, UnsafeArchiveError, unpackLayer, type UnpackResult } from './unpack.js';

export interface PullProgress {
  /** Compressed layer bytes downloaded (or found present). */
  bytesDone: number;
  bytesTotal: number;
  /** Layers downloaded and unpacked (or found present). */
  layersDone: number;
  layersTotal: number;
}

/** A pull that failed; `retryable` when trying again later may succeed (network, registry trouble, a corrupted download). */
export class PullError extends Error {
  constructor(
    message: string,
    readonly reason: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'PullError';
  }
}

export interface PullOptions {
  dataDir: string;
  /** The image name: images/<name>/meta.json. */
  name: string;
  /** The reference, e.g. "python:3.12-slim" or "127.0.0.1:5000/app@sha256:…" (no oci:// prefix). */
  reference: string;
  /** Recorded as meta.json's source; default oci://<canonical reference>. */
  source?: string;
  insecureRegistries?: readonly string[];
  credentials?: (registry: string) => Credentials | undefined;
  /** Default: this host's. */
  platform?: Platform;
  /** Layers downloaded at once (default 3). */
  concurrency?: number;
  /** Called as bytes arrive, at most every 100 ms, and once at the end. */
  onProgress?: (p: PullProgress) => void;
  signal?: AbortSignal;
  /** Recorded in meta.json. */
  pullRequest?: string;
  /** Shared client (keeps tokens and connections); default a new one from the options above. */
  client?: RegistryClient;
  /**
   * On failure, hands over the garbage-collector pins of the digests the pull touched instead of
   * dropping them, so blobs and layers it finished survive until the retry (call `release` then).
   */
  keepPinsOnFailure?: (release: () => void) => void;
}

export interface PullResult {
  meta: ImageMeta;
  /** The digest the reference resolved to (the index's, for a multi-platform image). */
  digest: string;
  /** The platform manifest's digest. */
  manifestDigest: string;
  sizeBytes: number;
  layerCount: number;
  /** Bytes that came over the network in this pull. */
  downloadedBytes: number;
  /** Layers already unpacked before this pull. */
  reusedLayers: number;
  /** Device nodes and FIFOs left out, over all layers. */
  skipped: string[];
}

/** Downloads and unpacks in flight in this process, by data_dir and digest: two pulls sharing a layer share the work. */
const inflight = new Map<string, { promise: Promise<LayerInfo & { skipped: string[] }>; signal: AbortSignal | undefined }>();

class Progress {
  readonly p: PullProgress;
  #last = 0;
  constructor(
    total: PullProgress,
    readonly cb: ((p: PullProgress) => void) | undefined,
  ) {
    this.p = total;
  }
  bytes(n: number): void {
    this.p.bytesDone += n;
    this.#emit(false);
  }
  layer(): void {
    this.p.layersDone++;
    this.#emit(true);
  }
  #emit(force: boolean): void {
    if (!this.cb) return;
    const now = Date.now();
    if (!force && now - this.#last < 100) return;
    this.#last = now;
    this.cb({ ...this.p });
  }
  final(): void {
    this.cb?.({ ...this.p });
  }
}

/** Pulls `reference` into data_dir as image `name`; see the top of this file. */
export async function pullImage(o: PullOptions): Promise<PullResult> {
  let ref: ImageReference;
  try {
    ref = parseReference(o.reference);
  } catch (e) {
    throw new PullError((e as ReferenceError).message, 'InvalidReference', false);
  }
  const platform = o.platform ?? hostPlatform();
  const client = o.client ?? new RegistryClient({ ...(o.insecureRegistries && { insecureRegistries: o.insecureRegistries }), ...(o.credentials && { credentials: o.credentials }) });
  const store = new ContentStore(o.dataDir);
  store.init();
  try {
    // 1. Manifest: an index is resolved to this platform's manifest, fetched by digest.
    const top = await client.manifest(ref, manifestRef(ref), o.signal);
    let parsed = parseManifest(top.body, top.contentType);
    const blobs = [top.digest];
    store.putBlob(top.digest, top.body);
    let manifestDigest = top.digest;
    for (let depth = 0; parsed.kind === 'index'; depth++) {
      if (depth >= 2) throw new ManifestError('an index nested more than twice');
      const d = selectPlatform(parsed.index, platform);
      const m = await client.manifest(ref, d.digest, o.signal);
      store.putBlob(m.digest, m.body);
      blobs.push(m.digest);
      manifestDigest = m.digest;
      parsed = parseManifest(m.body, m.contentType ?? d.mediaType);
    }
    const manifest = parsed.manifest;
    for (const l of manifest.layers) {
      if (!layerCompression(l.mediaType)) {
        throw new PullError(`layer ${l.digest}: unsupported layer media type ${l.mediaType} (supported: gzip-compressed and uncompressed tar)`, 'UnsupportedMediaType', false);
      }
    }
    // 2. Config.
    const configBody = store.hasBlob(manifest.config.digest)
      ? await readVerified(store.blobPath(manifest.config.digest), manifest.config.digest)
      : await client.smallBlob(ref, manifest.config.digest, o.signal);
    const config = parseImageConfig(configBody, platform);
    store.putBlob(manifest.config.digest, configBody);
    blobs.push(manifest.config.digest);
    const diffIds = config.rootfs?.diff_ids;
    if (diffIds && diffIds.length !== manifest.layers.length) {
      throw new ManifestError(`the image config lists ${diffIds.length} layers (rootfs.diff_ids), the manifest ${manifest.layers.length}`);
    }

    // 3. Layers, pinned against the garbage collector until meta.json names them.
    const layerDigests = manifest.layers.map((l) => l.digest);
    const unpin = pins.pin([...blobs, ...layerDigests]);
    let done = false;
    try {
      const progress = new Progress(
        { bytesDone: 0, bytesTotal: manifest.layers.reduce((a, l) => a + l.size, 0), layersDone: 0, layersTotal: manifest.layers.length },
        o.onProgress,
      );
      let downloaded = 0;
      let reused = 0;
      const infos: (LayerInfo & { skipped: string[] })[] = new Array(manifest.layers.length);
      // One failed layer stops the others (their partial downloads stay for a retry); every
      // worker has finished, its temp dir gone, before the pull reports.
      const stop = new AbortController();
      const signal = o.signal ? AbortSignal.any([o.signal, stop.signal]) : stop.signal;
      let failed: unknown;
      const next = { i: 0 };
      const worker = async () => {
        while (next.i < manifest.layers.length && !failed) {
          const i = next.i++;
          const l = manifest.layers[i]!;
          try {
            const present = store.layer(l.digest);
            if (present) {
              reused++;
              progress.bytes(l.size);
              infos[i] = { ...present, skipped: [] };
            } else {
              infos[i] = await ensureLayer(store, client, ref, l, diffIds?.[i], progress, (n) => (downloaded += n), signal);
            }
          } catch (e) {
            failed ??= e;
            stop.abort(e);
            return;
          }
          progress.layer();
        }
      };
      await Promise.all(Array.from({ length: Math.min(o.concurrency ?? 3, Math.max(1, manifest.layers.length)) }, worker));
      if (failed) throw failed;
      progress.final();

      // 4. meta.json, the moment the image exists.
      const sizeBytes = infos.reduce((a, x) => a + x.sizeBytes, 0);
      const meta: ImageMeta = {
        schemaVersion: 1,
        name: o.name,
        source: o.source ?? `oci://${ref.canonical}`,
        digest: top.digest,
        // Manifests list the base layer first; overlayfs wants the top one first.
        layers: manifest.layers.map((l) => layerRel(l.digest)).reverse(),
        mounts: [],
        config: imageConfigOf(config),
        updatedAt: new Date().toISOString(),
        sizeBytes,
        blobs: [...blobs, ...layerDigests],
        ...(o.pullRequest !== undefined && { pullRequest: o.pullRequest }),
      };
      if (manifest.layers.length === 0) throw new ManifestError('the image has no layers');
      writeImageMeta(o.dataDir, meta);
      done = true;
      return {
        meta,
        digest: top.digest,
        manifestDigest,
        sizeBytes,
        layerCount: manifest.layers.length,
        downloadedBytes: downloaded,
        reusedLayers: reused,
        skipped: infos.flatMap((x) => x.skipped).slice(0, 20),
      };
    } finally {
      if (done || !o.keepPinsOnFailure) unpin();
      else o.keepPinsOnFailure(unpin);
    }
  } catch (e) {
    throw asPullError(e, o.signal);
  }
}

/** Any failure as a PullError with a reason for the Image's status. */
export function asPullError(e: unknown, signal?: AbortSignal): PullError {
  if (e instanceof PullError) return e;
  if (signal?.aborted) return new PullError('the pull was cancelled', 'Cancelled', true);
  const msg = e instanceof Error ? e.message : String(e);
  if (e instanceof RegistryError) {
    const reason = e.status === 404 ? 'NotFound' : e.status === 401 || e.status === 403 ? 'Unauthorized' : 'RegistryError';
    return new PullError(msg, reason, e.retryable);
  }
  if (e instanceof ManifestError) return new PullError(msg, 'InvalidManifest', false);
  if (e instanceof ReferenceError) return new PullError(msg, 'InvalidReference', false);
  if (e instanceof UnsafeArchiveError) return new PullError(`refused: ${msg}`, 'UnsafeArchive', false);
  if (e instanceof ArchiveFormatError) return new PullError(msg, 'InvalidLayer', false);
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC') return new PullError(`no space left on the device of data_dir: ${msg}`, 'NoSpace', true);
  return new PullError(msg, 'PullFailed', true);
}

/** The image config's parts sessions use: Env, WorkingDir, User, and Entrypoint + Cmd as cmd. */
export function imageConfigOf(c: ImageConfigBlob): ImageConfig {
  const cc = c.config ?? {};
  const out: ImageConfig = { env: cc.Env ?? [] };
  if (cc.WorkingDir) out.workingDir = cc.WorkingDir;
  if (cc.User) out.user = cc.User;
  const cmd = [...(cc.Entrypoint ?? []), ...(cc.Cmd ?? [])];
  if (cmd.length > 0) out.cmd = cmd;
  return out;
}

async function readVerified(path: string, digest: string): Promise<Buffer> {
  const body = await readFile(path);
  const got = `sha256:${createHash('sha256').update(body).digest('hex')}`;
  if (got !== digest) throw new PullError(`stored blob ${digest} is corrupt (its content has digest ${got}); delete ${path}`, 'CorruptStore', false);
  return body;
}

/** The layer unpacked, sharing the work with a concurrent pull of the same digest. */
function ensureLayer(
  store: ContentStore,
  client: RegistryClient,
  ref: ImageReference,
  desc: Descriptor,
  diffId: string | undefined,
  progress: Progress,
  onDownload: (n: number) => void,
  signal: AbortSignal | undefined,
): Promise<LayerInfo & { skipped: string[] }> {
  const key = `${store.dataDir}\0${desc.digest}`;
  const running = inflight.get(key);
  if (running) {
    return running.promise.then(
      (r) => (progress.bytes(desc.size), r),
      (e: unknown) => {
        // The pull doing the work was cancelled, not this one: do it here.
        if (running.signal?.aborted && !signal?.aborted) return ensureLayer(store, client, ref, desc, diffId, progress, onDownload, signal);
        throw e;
      },
    );
  }
  const p = makeLayer(store, client, ref, desc, diffId, progress, onDownload, signal).finally(() => {
    if (inflight.get(key)?.promise === p) inflight.delete(key);
  });
  inflight.set(key, { promise: p, signal });
  return p;
}

async function makeLayer(
  store: ContentStore,
  client: RegistryClient,
  ref: ImageReference,
  desc: Descriptor,
  diffId: string | undefined,
  progress: Progress,
  onDownload: (n: number) => void,
  signal: AbortSignal | undefined,
): Promise<LayerInfo & { skipped: string[] }> {
  const tmp = store.tempLayerDir(desc.digest);
  const what = `layer ${desc.digest}`;
  try {
    let r: UnpackResult;
    if (store.hasBlob(desc.digest)) {
      r = await unpackLayer(createReadStream(store.blobPath(desc.digest)), tmp, { what, signal, ...(diffId && { diffId }) });
      progress.bytes(desc.size);
    } else {
      r = await downloadAndUnpack(store, client, ref, desc, diffId, tmp, progress, onDownload, signal);
    }
    const info: LayerInfo = { digest: desc.digest, diffId: r.diffId, sizeBytes: r.sizeBytes, entries: r.entries, unpackedAt: new Date().toISOString() };
    store.commitLayer(tmp, info);
    return { ...info, skipped: r.skipped };
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Downloads the blob into blobs/partial/<hex> (resuming what an earlier attempt left), hashing
 * as it goes. A fresh download is unpacked while it streams; a resumed one once it is complete.
 * The blob moves into blobs/sha256/ only when its digest and size match.
 */
async function downloadAndUnpack(
  store: ContentStore,
  client: RegistryClient,
  ref: ImageReference,
  desc: Descriptor,
  diffId: string | undefined,
  tmp: string,
  progress: Progress,
  onDownload: (n: number) => void,
  signal: AbortSignal | undefined,
): Promise<UnpackResult> {
  const partial = store.partialPath(desc.digest);
  const what = `layer ${desc.digest}`;
  let offset = existsSync(partial) ? statSync(partial).size : 0;
  if (offset >= desc.size) offset = 0; // complete but not moved (its hash failed, or a crash): fetch again
  let hash = createHash('sha256');
  if (offset > 0) {
    for await (const c of createReadStream(partial, { end: offset - 1 }) as AsyncIterable<Buffer>) hash.update(c);
  }
  const { stream, resumed } = await client.blob(ref, desc.digest, offset, signal);
  if (offset > 0 && !resumed) {
    offset = 0;
    hash = createHash('sha256');
  }
  const fh = await open(partial, offset > 0 ? 'a' : 'w', 0o600);
  let unpackIn: PassThrough | undefined;
  let unpacked: Promise<UnpackResult> | undefined;
  let unpackError: Error | undefined;
  if (offset === 0) {
    unpackIn = new PassThrough({ highWaterMark: 1 << 20 });
    // Writes after the unpacker gave up fail; its own error is the one reported.
    unpackIn.on('error', () => {});
    unpacked = unpackLayer(unpackIn, tmp, { what, signal, ...(diffId && { diffId }) });
    unpacked.catch((e: unknown) => (unpackError = e as Error));
  }
  progress.bytes(offset);
  let n = offset;
  const out = new BatchWriter(fh);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      n += chunk.length;
      if (n > desc.size) throw new PullError(`blob ${desc.digest}: the registry sent more than the ${desc.size} bytes the manifest says`, 'SizeMismatch', true);
      hash.update(chunk);
      onDownload(chunk.length);
      progress.bytes(chunk.length);
      // The unpacker gets the chunk first, so it works while the file write is in flight.
      // When unpacking fails the download goes on: the digest decides whether the content was
      // corrupted on the way (DigestMismatch) or is what the image really holds (its unpack error).
      // The drain wait starts now: the event may come while the write below is in flight.
      const drained = unpackIn && !unpackError && !unpackIn.write(chunk) ? Promise.race([once(unpackIn, 'drain'), unpacked]).catch(() => {}) : undefined;
      await out.add(chunk);
      if (drained) await drained;
    }
    await out.flush();
  } catch (e) {
    stream.destroy();
    unpackIn?.destroy(e as Error);
    // What arrived is a valid prefix: kept for a resume.
    await out.flush().catch(() => {});
    await fh.close();
    await unpacked?.catch(() => {});
    if (e instanceof PullError && e.reason === 'SizeMismatch') rmSync(partial, { force: true });
    throw e;
  }
  await fh.close();
  const fail = (err: PullError) => {
    unpackIn?.destroy(err);
    return unpacked ? unpacked.then(() => Promise.reject(err), () => Promise.reject(err)) : Promise.reject(err);
  };
  if (n !== desc.size) {
    return fail(new PullError(`blob ${desc.digest}: the download ended after ${n} of ${desc.size} bytes`, 'Incomplete', true));
  }
  const got = `sha256:${hash.digest('hex')}`;
  if (got !== desc.digest) {
    rmSync(partial, { force: true });
    return fail(new PullError(`blob ${desc.digest}: digest mismatch: the downloaded content has digest ${got}; nothing of it was kept`, 'DigestMismatch', true));
  }
  renameSync(partial, store.blobPath(desc.digest));
  if (unpackIn && unpacked) {
    unpackIn.end();
    return unpacked;
  }
  return unpackLayer(createReadStream(store.blobPath(desc.digest)), tmp, { what, signal, ...(diffId && { diffId }) });
}

/** Gathers small network chunks into ~1 MiB writes (one threadpool round trip each). */
class BatchWriter {
  #chunks: Buffer[] = [];
  #size = 0;
  constructor(private readonly fh: FileHandle) {}
  async add(c: Buffer): Promise<void> {
    this.#chunks.push(c);
    this.#size += c.length;
    if (this.#size >= 1 << 20) await this.flush();
  }
  async flush(): Promise<void> {
    if (this.#size === 0) return;
    const bufs = this.#chunks;
    const size = this.#size;
    this.#chunks = [];
    this.#size = 0;
    let done = (await this.fh.writev(bufs)).bytesWritten;
    if (done < size) {
      const rest = Buffer.concat(bufs).subarray(done);
      let off = 0;
      while (off < rest.length) off += (await this.fh.write(rest, off, rest.length - off)).bytesWritten;
      done = size;
    }
  }
}
