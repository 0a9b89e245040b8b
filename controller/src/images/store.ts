// Content on the host, shared between images and addressed by digest:
//   blobs/sha256/<hex>          verified registry blobs (manifests, configs, compressed layers)
//   blobs/partial/<hex>         a download in progress or interrupted (resumed with a Range request)
//   layers/sha256-<hex>/        an unpacked layer (named by its blob's digest), an overlayfs lowerdir
//   layers/sha256-<hex>.json    what unpacking it found (diffId, size), written before the rename
//   layers/.tmp-*               a layer being unpacked; renamed into place only when complete
//
// blobs/ and layers/ are 0700: layers hold images' setuid programs, which no host user may reach.
//
// Pins: what a pull in this process is about to use. The garbage collector (gc.ts) skips pinned
// digests, and decides and renames each entry synchronously, so a pull that pins a digest and then
// finds its layer present can rely on it staying.

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const DIGEST = /^sha256:([0-9a-f]{64})$/;

export function digestHex(digest: string): string {
  const m = DIGEST.exec(digest);
  if (!m) throw new Error(`not a sha256 digest: ${JSON.stringify(digest)}`);
  return m[1]!;
}

/** layers/sha256-<hex>: a layer's path relative to data_dir, as meta.json lists it. */
export function layerRel(digest: string): string {
  return join('layers', `sha256-${digestHex(digest)}`);
}

export interface LayerInfo {
  /** The blob's digest (compressed), which names the directory. */
  digest: string;
  /** sha256 of the uncompressed tar. */
  diffId: string;
  sizeBytes: number;
  entries: number;
  unpackedAt: string;
}

/** Reference counts of digests in use by pulls of this process. */
export class Pins {
  readonly #count = new Map<string, number>();
  pin(digests: Iterable<string>): () => void {
    const list = [...digests];
    for (const d of list) this.#count.set(d, (this.#count.get(d) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      for (const d of list) {
        const n = (this.#count.get(d) ?? 1) - 1;
        if (n <= 0) this.#count.delete(d);
        else this.#count.set(d, n);
      }
    };
  }
  has(digest: string): boolean {
    return this.#count.has(digest);
  }
  /** Whether a pinned digest's hex starts with `hexPrefix` (temp dirs carry 16 hex digits). */
  hasPrefix(hexPrefix: string): boolean {
    for (const d of this.#count.keys()) if (d.startsWith(`sha256:${hexPrefix}`)) return true;
    return false;
  }
}

/** One per process: pulls and the garbage collector of every data_dir share it. */
export const pins = new Pins();

export class ContentStore {
  readonly blobsDir: string;
  readonly partialDir: string;
  readonly layersDir: string;

  constructor(readonly dataDir: string) {
    this.blobsDir = join(dataDir, 'blobs', 'sha256');
    this.partialDir = join(dataDir, 'blobs', 'partial');
    this.layersDir = join(dataDir, 'layers');
  }

  /** Creates the directories (0700). */
  init(): void {
    for (const d of [join(this.dataDir, 'blobs'), this.blobsDir, this.partialDir, this.layersDir]) mkdirSync(d, { recursive: true, mode: 0o700 });
  }

  blobPath(digest: string): string {
    return join(this.blobsDir, digestHex(digest));
  }

  partialPath(digest: string): string {
    return join(this.partialDir, digestHex(digest));
  }

  hasBlob(digest: string): boolean {
    return existsSync(this.blobPath(digest));
  }

  /** Stores a small verified blob (manifest, config) by digest; atomic. */
  putBlob(digest: string, body: Buffer): void {
    const p = this.blobPath(digest);
    if (existsSync(p)) return;
    const tmp = `${this.partialPath(digest)}.${randomBytes(4).toString('hex')}`;
    writeFileSync(tmp, body, { mode: 0o600 });
    renameSync(tmp, p);
  }

  layerDir(digest: string): string {
    return join(this.dataDir, layerRel(digest));
  }

  layerInfoPath(digest: string): string {
    return `${this.layerDir(digest)}.json`;
  }

  /** The layer's record when it is unpacked, else undefined. */
  layer(digest: string): LayerInfo | undefined {
    if (!existsSync(this.layerDir(digest))) return undefined;
    try {
      return JSON.parse(readFileSync(this.layerInfoPath(digest), 'utf8')) as LayerInfo;
    } catch {
      // Unpacked, but its record is gone: the directory alone is still a complete layer.
      return { digest, diffId: '', sizeBytes: 0, entries: 0, unpackedAt: '' };
    }
  }

  /** A fresh, empty directory to unpack into (0755: it becomes the layer's root). */
  tempLayerDir(digest: string): string {
    const p = join(this.layersDir, `.tmp-${digestHex(digest).slice(0, 16)}-${randomBytes(6).toString('hex')}`);
    mkdirSync(p, { mode: 0o755 });
    return p;
  }

  /**
   * Moves an unpacked temp dir into place. When another pull got there first, its layer (the
   * same content) stays and the temp dir is removed.
   */
  commitLayer(tmp: string, info: LayerInfo): void {
    writeFileSync(`${this.layerInfoPath(info.digest)}`, `${JSON.stringify(info)}\n`, { mode: 0o600 });
    try {
      renameSync(tmp, this.layerDir(info.digest));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST' && code !== 'ENOTEMPTY') throw e;
      rmSync(tmp, { recursive: true, force: true });
    }
  }
}
