// Image references as Docker and the distribution registry spell them: [registry/]repository[:tag][@digest].
// Docker Hub short names are completed the way docker does it: `python:3.12-slim` is
// docker.io/library/python:3.12-slim, served by registry-1.docker.io.

export const DOCKER_HUB = 'docker.io';
/** Where Docker Hub's registry API lives. */
export const DOCKER_HUB_HOST = 'registry-1.docker.io';

export interface ImageReference {
  /** The registry as named in the canonical reference: "docker.io", "ghcr.io", "127.0.0.1:5000". */
  registry: string;
  /** The host[:port] the registry API is reached at (registry-1.docker.io for docker.io). */
  host: string;
  /** "library/python", "org/app". */
  repository: string;
  /** Absent when only a digest is given. */
  tag?: string;
  digest?: string;
  /** docker.io/library/python:3.12-slim, or …@sha256:… */
  canonical: string;
}

export class ReferenceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReferenceError';
  }
}

const COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const HOST = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]{1,5})?$/;

/**
 * Parses a reference. A first path component is a registry when it has a '.' or ':' or is
 * "localhost" (docker's rule), otherwise the reference is on Docker Hub. Without tag or digest the
 * tag is "latest".
 */
export function parseReference(input: string): ImageReference {
  const fail = (why: string): never => {
    throw new ReferenceError(`invalid image reference ${JSON.stringify(input)}: ${why}`);
  };
  const s = input.trim();
  if (s === '') fail('empty');
  if (s.length > 4096) fail('longer than 4096 characters');
  if (/\s/.test(s)) fail('contains white space');
  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) fail(`digest ${JSON.stringify(digest)} must be sha256:<64 lowercase hex digits>`);
  }
  let tag: string | undefined;
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) fail(`tag ${JSON.stringify(tag)} must be 1-128 of [A-Za-z0-9_.-], not starting with '.' or '-'`);
  }
  const parts = rest.split('/');
  let registry = DOCKER_HUB;
  const first = parts[0]!;
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    if (!HOST.test(first)) fail(`registry ${JSON.stringify(first)} is not a host[:port]`);
    registry = first.toLowerCase();
    parts.shift();
  }
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = DOCKER_HUB;
  if (parts.length === 0 || parts.some((p) => p === '')) fail('empty repository path component');
  for (const p of parts) {
    if (!COMPONENT.test(p)) {
      fail(/[A-Z]/.test(p) ? `repository name must be lowercase (${JSON.stringify(p)})` : `repository path component ${JSON.stringify(p)} is not valid`);
    }
  }
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift('library');
  const repository = parts.join('/');
  if (repository.length > 255) fail('repository name longer than 255 characters');
  if (tag === undefined && digest === undefined) tag = 'latest';
  const canonical = `${registry}/${repository}${tag !== undefined ? `:${tag}` : ''}${digest !== undefined ? `@${digest}` : ''}`;
  return {
    registry,
    host: registry === DOCKER_HUB ? DOCKER_HUB_HOST : registry,
    repository,
    ...(tag !== undefined && { tag }),
    ...(digest !== undefined && { digest }),
    canonical,
  };
}

/** The tag or digest to ask the registry for (the digest wins: it pins the content). */
export function manifestRef(ref: ImageReference): string {
  return ref.digest ?? ref.tag ?? 'latest';
}

/** Whether `host` ("127.0.0.1:5000", "[::1]:5000", "localhost") names this machine. */
export function isLoopbackRegistry(host: string): boolean {
  const h = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}
