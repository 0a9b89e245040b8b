// images/<name>/meta.json: what a session needs to build its root from an image — the ordered
// overlay lower layers, extra read-only bind mounts from the host, and the image config. Written
// by whoever prepares an image (the built-in one, a registry pull, a tarball import), read by the
// Session reconciler.

import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, normalize } from 'node:path';
import type { ImageConfig } from '@sandkasten/api-schemas';

export type { ImageConfig };

/** A bind mount from the host into every sandbox of the image (always read-only). */
export interface ImageMount {
  /** Absolute path inside the sandbox. */
  destination: string;
  /** Absolute path on the host. */
  source: string;
  /** OCI mount options, e.g. ["rbind", "ro", "nosuid", "nodev"]. */
  options: string[];
}

export interface ImageMeta {
  /** Format of this file; bumped on incompatible changes. */
  schemaVersion: 1;
  name: string;
  /** Where it came from: builtin://host, oci://registry/repo:tag, tar:///path. */
  source: string;
  /** sha256:… of the content: the manifest for registry images, the generated tree for builtin ones. */
  digest?: string;
  /**
   * Overlay lower layers, top first, relative to data_dir ("images/base/rootfs",
   * "layers/sha256-…"), so a data_dir can move. Resolve with layerPaths().
   */
  layers: string[];
  mounts: ImageMount[];
  config: ImageConfig;
  /** RFC 3339 time the content was last (re)written. */
  updatedAt?: string;
  /** Unpacked size of the layers in bytes (registry and tarball images). */
  sizeBytes?: number;
  /**
   * Every blob under data_dir/blobs the image holds (manifests, config, compressed layers), so the
   * garbage collector keeps them.
   */
  blobs?: string[];
  /** The pull request (Image annotation sandkasten.dev/pull-requested) this content answers. */
  pullRequest?: string;
}

export class ImageMetaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageMetaError';
  }
}

export const IMAGE_META_FILE = 'meta.json';

export function imageDir(dataDir: string, name: string): string {
  if (!/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(name)) throw new ImageMetaError(`invalid image name ${JSON.stringify(name)}`);
  return join(dataDir, 'images', name);
}

/**
 * overlayfs takes lowerdir as a ':'-separated list inside a ','-separated option string, so these
 * characters (and '\', its escape) cannot appear in a layer path.
 */
export function checkOverlayPath(path: string, what: string): void {
  const bad = /[:,\\\n]/.exec(path);
  if (bad) throw new ImageMetaError(`${what} ${JSON.stringify(path)}: overlayfs cannot use a path containing ${JSON.stringify(bad[0])}`);
}

/** The layers as absolute host paths, top first, ready for sandkasten.dev/overlay.lowerdirs. */
export function layerPaths(dataDir: string, meta: ImageMeta): string[] {
  return meta.layers.map((l) => {
    const p = join(dataDir, l);
    checkOverlayPath(p, `image ${meta.name}: layer`);
    return p;
  });
}

const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');

/** Checks the shape of a parsed meta.json; every problem names its field. */
export function parseImageMeta(v: unknown, where: string): ImageMeta {
  const fail = (field: string, msg: string): never => {
    throw new ImageMetaError(`${where}: ${field}: ${msg}`);
  };
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return fail('(root)', 'must be an object');
  const m = v as Record<string, unknown>;
  if (m.schemaVersion !== 1) fail('schemaVersion', `unsupported ${JSON.stringify(m.schemaVersion)} (this version reads 1)`);
  if (typeof m.name !== 'string' || m.name === '') fail('name', 'must be a non-empty string');
  if (typeof m.source !== 'string' || m.source === '') fail('source', 'must be a non-empty string');
  if (m.digest !== undefined && (typeof m.digest !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(m.digest))) fail('digest', 'must be sha256:<64 hex digits>');
  if (!isStringArray(m.layers) || m.layers.length === 0) fail('layers', 'must be a non-empty list of paths');
  (m.layers as string[]).forEach((l, i) => {
    // Relative and inside data_dir: a meta.json cannot point a session's root anywhere else.
    if (l === '' || isAbsolute(l) || normalize(l).startsWith('..') || normalize(l) !== l) fail(`layers[${i}]`, `${JSON.stringify(l)} must be a normalized path relative to data_dir`);
  });
  if (!Array.isArray(m.mounts)) fail('mounts', 'must be a list');
  (m.mounts as unknown[]).forEach((x, i) => {
    const mt = x as Record<string, unknown> | null;
    if (mt === null || typeof mt !== 'object') return fail(`mounts[${i}]`, 'must be an object');
    if (typeof mt.destination !== 'string' || !isAbsolute(mt.destination)) fail(`mounts[${i}].destination`, 'must be an absolute path');
    if (typeof mt.source !== 'string' || !isAbsolute(mt.source)) fail(`mounts[${i}].source`, 'must be an absolute path');
    if (!isStringArray(mt.options) || !mt.options.includes('ro')) fail(`mounts[${i}].options`, 'must be a list of strings including "ro"');
  });
  if (m.sizeBytes !== undefined && (typeof m.sizeBytes !== 'number' || !Number.isSafeInteger(m.sizeBytes) || m.sizeBytes < 0)) fail('sizeBytes', 'must be a non-negative integer');
  if (m.blobs !== undefined && (!isStringArray(m.blobs) || !m.blobs.every((b) => /^sha256:[0-9a-f]{64}$/.test(b)))) fail('blobs', 'must be a list of sha256 digests');
  if (m.pullRequest !== undefined && typeof m.pullRequest !== 'string') fail('pullRequest', 'must be a string');
  const c = m.config as Record<string, unknown> | undefined;
  if (c === null || typeof c !== 'object' || Array.isArray(c)) return fail('config', 'must be an object');
  if (c.env !== undefined && !isStringArray(c.env)) fail('config.env', 'must be a list of KEY=VALUE strings');
  if (c.cmd !== undefined && !isStringArray(c.cmd)) fail('config.cmd', 'must be a list of strings');
  if (c.workingDir !== undefined && typeof c.workingDir !== 'string') fail('config.workingDir', 'must be a string');
  if (c.user !== undefined && typeof c.user !== 'string') fail('config.user', 'must be a string');
  return m as unknown as ImageMeta;
}

/** The image's meta.json, or undefined when the image has none (not prepared yet). */
export function readImageMeta(dataDir: string, name: string): ImageMeta | undefined {
  const path = join(imageDir(dataDir, name), IMAGE_META_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ImageMetaError(`${path}: cannot read: ${(e as Error).message}`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new ImageMetaError(`${path}: invalid JSON: ${(e as Error).message}`);
  }
  return parseImageMeta(v, path);
}

/** Writes meta.json atomically (a reader sees the old file or the new one, never half of one). */
export function writeImageMeta(dataDir: string, meta: ImageMeta): void {
  parseImageMeta(meta, `image ${meta.name}`);
  const dir = imageDir(dataDir, meta.name);
  mkdirSync(dir, { recursive: true, mode: 0o711 });
  const tmp = join(dir, `.${IMAGE_META_FILE}.${randomBytes(4).toString('hex')}`);
  try {
    writeFileSync(tmp, `${JSON.stringify(meta, null, 2)}\n`, { mode: 0o644 });
    renameSync(tmp, join(dir, IMAGE_META_FILE));
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Removes images/<name>: meta.json first (no session starts from it after that), then the rest. */
export function removeImageDir(dataDir: string, name: string): void {
  const dir = imageDir(dataDir, name);
  try {
    renameSync(join(dir, IMAGE_META_FILE), join(dir, `.${IMAGE_META_FILE}.deleted`));
  } catch {
    // none
  }
  rmSync(dir, { recursive: true, force: true });
}
