// Manifests, indexes and image configs: the media types understood, their shapes checked after
// parsing, and the choice of the host's platform from a multi-platform index.

import { arch, endianness } from 'node:os';

export const MEDIA = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociLayerNondistributable: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  ociLayerNondistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

/** What a manifest request accepts, most wanted first. */
export const MANIFEST_ACCEPT = [MEDIA.ociIndex, MEDIA.dockerList, MEDIA.ociManifest, MEDIA.dockerManifest].join(', ');

/** Layer compression by media type; undefined: not a layer this client can unpack. */
export function layerCompression(mediaType: string): 'gzip' | 'none' | undefined {
  switch (mediaType) {
    case MEDIA.ociLayerGzip:
    case MEDIA.ociLayerNondistributableGzip:
    case MEDIA.dockerLayerGzip:
    case MEDIA.dockerForeignLayerGzip:
      return 'gzip';
    case MEDIA.ociLayer:
    case MEDIA.ociLayerNondistributable:
      return 'none';
    default:
      return undefined;
  }
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  urls?: string[];
  annotations?: Record<string, string>;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface ImageManifest {
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface ImageIndex {
  mediaType: string;
  manifests: Descriptor[];
}

/** The parts of an OCI / Docker image config this project uses. */
export interface ImageConfigBlob {
  os?: string;
  architecture?: string;
  variant?: string;
  config?: { Env?: string[]; WorkingDir?: string; User?: string; Cmd?: string[]; Entrypoint?: string[] };
  rootfs?: { type?: string; diff_ids?: string[] };
}

export class ManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ManifestError';
  }
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

function descriptor(v: unknown, where: string): Descriptor {
  const d = v as Partial<Descriptor> | null;
  if (d === null || typeof d !== 'object') throw new ManifestError(`${where}: not an object`);
  if (typeof d.mediaType !== 'string') throw new ManifestError(`${where}.mediaType: missing`);
  if (typeof d.digest !== 'string' || !DIGEST.test(d.digest)) {
    throw new ManifestError(`${where}.digest: ${JSON.stringify(d.digest)} is not a sha256 digest (only sha256 is supported)`);
  }
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) throw new ManifestError(`${where}.size: must be a non-negative integer`);
  return d as Descriptor;
}

/**
 * Parses a manifest or index body. The media type comes from the body's mediaType, else from the
 * Content-Type the registry sent. Schema 1 and unknown types are refused by name.
 */
export function parseManifest(body: Buffer, contentType: string | undefined): { kind: 'index'; index: ImageIndex } | { kind: 'manifest'; manifest: ImageManifest } {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new ManifestError(`the manifest is not valid JSON: ${(e as Error).message}`);
  }
  if (doc === null || typeof doc !== 'object') throw new ManifestError('the manifest is not a JSON object');
  const ct = (contentType ?? '').split(';')[0]!.trim();
  let mediaType = typeof doc.mediaType === 'string' ? doc.mediaType : ct;
  if (!mediaType || mediaType === 'application/json' || mediaType === 'text/plain') {
    // OCI allows mediaType to be absent: tell an index from a manifest by its fields.
    mediaType = Array.isArray(doc.manifests) ? MEDIA.ociIndex : doc.config ? MEDIA.ociManifest : mediaType;
  }
  if (doc.schemaVersion === 1 || mediaType === MEDIA.dockerSchema1 || mediaType === MEDIA.dockerSchema1Signed) {
    throw new ManifestError(`unsupported manifest media type ${mediaType || 'Docker schema 1'} (Docker image manifest schema 1 is deprecated; push the image again with a current client)`);
  }
  if (mediaType === MEDIA.ociIndex || mediaType === MEDIA.dockerList) {
    if (!Array.isArray(doc.manifests)) throw new ManifestError('index: manifests must be a list');
    return { kind: 'index', index: { mediaType, manifests: doc.manifests.map((m, i) => descriptor(m, `manifests[${i}]`)) } };
  }
  if (mediaType === MEDIA.ociManifest || mediaType === MEDIA.dockerManifest) {
    if (!Array.isArray(doc.layers)) throw new ManifestError('manifest: layers must be a list');
    return {
      kind: 'manifest',
      manifest: { mediaType, config: descriptor(doc.config, 'config'), layers: doc.layers.map((l, i) => descriptor(l, `layers[${i}]`)) },
    };
  }
  throw new ManifestError(`unsupported manifest media type ${JSON.stringify(mediaType)}`);
}

/** This host as an OCI platform (Go's GOARCH names, arm variants as the OCI spec lists them). */
export function hostPlatform(): Platform {
  switch (arch()) {
    case 'x64':
      return { os: 'linux', architecture: 'amd64' };
    case 'arm64':
      return { os: 'linux', architecture: 'arm64', variant: 'v8' };
    case 'arm':
      return { os: 'linux', architecture: 'arm', variant: `v${(process.config.variables as Record<string, unknown>).arm_version ?? '7'}` };
    case 'ia32':
      return { os: 'linux', architecture: '386' };
    case 'ppc64':
      return { os: 'linux', architecture: endianness() === 'LE' ? 'ppc64le' : 'ppc64' };
    case 'riscv64':
      return { os: 'linux', architecture: 'riscv64' };
    case 's390x':
      return { os: 'linux', architecture: 's390x' };
    default:
      return { os: 'linux', architecture: arch() };
  }
}

export function formatPlatform(p: Partial<Platform> | undefined): string {
  if (!p) return 'unknown';
  return [p.os ?? '?', p.architecture ?? '?', p.variant].filter(Boolean).join('/');
}

/** Normalized variant: arm64's "v8" is its only one, so absent and "v8" match. */
function variantOf(p: Platform): string | undefined {
  if (p.architecture === 'arm64') return p.variant === undefined || p.variant === 'v8' ? 'v8' : p.variant;
  return p.variant || undefined;
}

/**
 * The index entry for `want`: same os and architecture; the exact variant preferred; for arm a
 * lower variant also runs (v6 on a v7 host), as containerd allows. Attestation entries
 * (platform unknown/unknown) never match.
 */
export function selectPlatform(index: ImageIndex, want: Platform = hostPlatform()): Descriptor {
  const candidates = index.manifests.filter((m) => m.platform && m.platform.os === want.os && m.platform.architecture === want.architecture);
  const wv = variantOf(want);
  const exact = candidates.find((m) => variantOf(m.platform!) === wv);
  if (exact) return exact;
  if (want.architecture === 'arm' && wv) {
    const rank = (v: string | undefined) => Number((v ?? 'v0').slice(1));
    const lower = candidates.filter((m) => rank(variantOf(m.platform!)) <= rank(wv)).sort((a, b) => rank(variantOf(b.platform!)) - rank(variantOf(a.platform!)));
    if (lower[0]) return lower[0];
  }
  const noVariant = candidates.find((m) => !m.platform!.variant);
  if (noVariant && want.architecture !== 'arm') return noVariant;
  const offered = index.manifests.filter((m) => m.platform && m.platform.os !== 'unknown').map((m) => formatPlatform(m.platform));
  throw new ManifestError(`no image for this host's platform ${formatPlatform(want)} in the index (it offers: ${offered.length ? offered.join(', ') : 'no platforms'})`);
}

/** Parses and checks a config blob; `expected` is the host platform the image must be for. */
export function parseImageConfig(body: Buffer, want: Platform = hostPlatform()): ImageConfigBlob {
  let doc: ImageConfigBlob;
  try {
    doc = JSON.parse(body.toString('utf8')) as ImageConfigBlob;
  } catch (e) {
    throw new ManifestError(`the image config is not valid JSON: ${(e as Error).message}`);
  }
  if (doc === null || typeof doc !== 'object') throw new ManifestError('the image config is not a JSON object');
  if (doc.os !== undefined && doc.os !== want.os) throw new ManifestError(`the image is for ${formatPlatform(doc as Platform)}, this host runs ${formatPlatform(want)}`);
  if (doc.architecture !== undefined && doc.architecture !== want.architecture) {
    throw new ManifestError(`the image is for ${formatPlatform(doc as Platform)}, this host runs ${formatPlatform(want)}`);
  }
  const c = doc.config;
  const strings = (v: unknown, f: string) => {
    if (v !== undefined && v !== null && !(Array.isArray(v) && v.every((s) => typeof s === 'string'))) throw new ManifestError(`image config: config.${f} must be a list of strings`);
  };
  if (c !== undefined && c !== null) {
    strings(c.Env, 'Env');
    strings(c.Cmd, 'Cmd');
    strings(c.Entrypoint, 'Entrypoint');
    if (c.WorkingDir !== undefined && typeof c.WorkingDir !== 'string') throw new ManifestError('image config: config.WorkingDir must be a string');
    if (c.User !== undefined && typeof c.User !== 'string') throw new ManifestError('image config: config.User must be a string');
  }
  const ids = doc.rootfs?.diff_ids;
  if (ids !== undefined && !(Array.isArray(ids) && ids.every((d) => typeof d === 'string' && DIGEST.test(d)))) {
    throw new ManifestError('image config: rootfs.diff_ids must be a list of sha256 digests');
  }
  return doc;
}
