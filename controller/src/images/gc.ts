// Garbage collection of layers and blobs, mark and sweep. Marked (kept):
//   - everything an images/*/meta.json names (its layers and blobs);
//   - the layers running sessions have mounted (sessions/*/config.json's overlay lowerdirs),
//     also when their image was deleted or pulled again since;
//   - digests pinned by pulls in this process (store.ts).
// Each unmarked entry is checked and renamed to a trash name synchronously (no await between the
// check and the rename), so a pull that pins a digest and then sees its layer cannot lose it.
// An unreadable meta.json stops the sweep: deleting what a repairable image needs is worse than
// keeping garbage.

import { lstatSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { IMAGE_META_FILE, readImageMeta } from './meta.js';
import { ContentStore, pins } from './store.js';

export interface GcOptions {
  /** Partial downloads untouched this long are removed (default 1 h; newer ones may be resumed). */
  partialMaxAgeMs?: number;
  /** Temp dirs of unpacking that no pull of this process owns, untouched this long, are removed (default 1 h). */
  tempMaxAgeMs?: number;
}

export interface GcResult {
  layers: string[];
  blobs: string[];
  partials: string[];
  bytesFreed: number;
}

const HEX = /^[0-9a-f]{64}$/;
const ANNOTATION_LOWERDIRS = 'sandkasten.dev/overlay.lowerdirs';

function entries(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function ageMs(p: string): number {
  try {
    return Date.now() - lstatSync(p).mtimeMs;
  } catch {
    return 0;
  }
}

/** The digests (hex) every image and every session on this data_dir uses. */
export function markInUse(dataDir: string): Set<string> {
  const used = new Set<string>();
  const imagesDir = join(dataDir, 'images');
  for (const name of entries(imagesDir)) {
    let meta;
    try {
      meta = readImageMeta(dataDir, name);
    } catch (e) {
      throw new Error(`garbage collection skipped: images/${name}/${IMAGE_META_FILE} is unreadable (${(e as Error).message})`);
    }
    if (!meta) continue;
    for (const l of meta.layers) {
      const m = /^layers\/sha256-([0-9a-f]{64})$/.exec(l);
      if (m) used.add(m[1]!);
    }
    for (const b of meta.blobs ?? []) used.add(b.slice('sha256:'.length));
  }
  const layersPrefix = join(dataDir, 'layers', 'sha256-');
  for (const uid of entries(join(dataDir, 'sessions'))) {
    let lower: string | undefined;
    try {
      const cfg = JSON.parse(readFileSync(join(dataDir, 'sessions', uid, 'config.json'), 'utf8')) as { annotations?: Record<string, string> };
      lower = cfg.annotations?.[ANNOTATION_LOWERDIRS];
    } catch {
      continue; // no bundle (yet): nothing mounted from it
    }
    for (const p of (lower ?? '').split(':')) {
      if (p.startsWith(layersPrefix)) used.add(p.slice(layersPrefix.length));
    }
  }
  return used;
}

/** Removes layers, blobs and stale partial downloads nothing uses; see the top of this file. */
export async function collectGarbage(dataDir: string, o: GcOptions = {}): Promise<GcResult> {
  const store = new ContentStore(dataDir);
  const used = markInUse(dataDir);
  const keep = (hex: string) => used.has(hex) || pins.has(`sha256:${hex}`);
  const result: GcResult = { layers: [], blobs: [], partials: [], bytesFreed: 0 };
  const trash: string[] = [];
  const partialMax = o.partialMaxAgeMs ?? 3600_000;
  const tempMax = o.tempMaxAgeMs ?? 3600_000;

  for (const name of entries(store.layersDir)) {
    const p = join(store.layersDir, name);
    const m = /^sha256-([0-9a-f]{64})(\.json)?$/.exec(name);
    if (m) {
      if (keep(m[1]!)) continue;
      if (m[2]) {
        // A record whose layer is gone (or going): removed with it below, or now when alone.
        if (!entries(store.layersDir).includes(`sha256-${m[1]}`)) rmSync(p, { force: true });
        continue;
      }
      const t = join(store.layersDir, `.trash-${m[1]!.slice(0, 16)}-${process.pid}-${Date.now()}`);
      renameSync(p, t);
      result.bytesFreed += recordedSize(`${p}.json`);
      rmSync(`${p}.json`, { force: true });
      trash.push(t);
      result.layers.push(`sha256:${m[1]}`);
    } else if (name.startsWith('.trash-')) {
      trash.push(p);
    } else if (name.startsWith('.tmp-')) {
      const prefix = name.slice(5, 21);
      const owned = pins.hasPrefix(prefix);
      if (!owned && ageMs(p) > tempMax) trash.push(p);
    }
  }
  for (const hex of entries(store.blobsDir)) {
    if (!HEX.test(hex) || keep(hex)) continue;
    const p = join(store.blobsDir, hex);
    try {
      result.bytesFreed += lstatSync(p).size;
    } catch {
      continue;
    }
    rmSync(p, { force: true });
    result.blobs.push(`sha256:${hex}`);
  }
  for (const name of entries(store.partialDir)) {
    const hex = name.slice(0, 64);
    const p = join(store.partialDir, name);
    if (pins.has(`sha256:${hex}`) || ageMs(p) <= partialMax) continue;
    rmSync(p, { force: true });
    result.partials.push(name);
  }
  for (const t of trash) await rm(t, { recursive: true, force: true });
  return result;
}

function recordedSize(infoPath: string): number {
  try {
    const n = (JSON.parse(readFileSync(infoPath, 'utf8')) as { sizeBytes?: unknown }).sizeBytes;
    return typeof n === 'number' ? n : 0;
  } catch {
    return 0;
  }
}
