// A registry API v2 client (the OCI distribution spec): manifests and blobs, read-only. HTTPS by
// default; plain HTTP (or HTTPS without verification) for loopback registries and those listed
// in insecure_registries, as docker does. Authentication: anonymous, Basic, and the bearer-token
// exchange a 401's WWW-Authenticate asks for; tokens are kept per repository until they expire.

import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { basicAuthorization, parseChallenges, type Credentials } from './auth.js';
import { isTlsMismatch, NetworkError, readBody, request } from './http.js';
import { MANIFEST_ACCEPT } from './manifest.js';
import { isLoopbackRegistry, type ImageReference } from './reference.js';

/** Manifests and configs are small; a larger one is refused rather than read into memory. */
const MAX_MANIFEST_BYTES = 4 << 20;
const MAX_REDIRECTS = 5;

export class RegistryError extends Error {
  constructor(
    message: string,
    /** HTTP status, when the registry answered. */
    readonly status: number | undefined,
    /** Worth trying again later (network trouble, 5xx, 429), as opposed to a wrong request. */
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}

export interface RegistryClientOptions {
  /** host[:port] reached over plain HTTP or unverified TLS (loopback registries always are). */
  insecureRegistries?: readonly string[];
  /** Credentials for a registry (as named in references, e.g. "docker.io"), or undefined: anonymous. */
  credentials?: (registry: string) => Credentials | undefined;
  idleTimeoutMs?: number;
}

export interface Fetched {
  body: Buffer;
  contentType: string | undefined;
  /** sha256 of the body. */
  digest: string;
}

interface Token {
  header: string;
  expiresAt: number;
}

export class RegistryClient {
  readonly #insecure: Set<string>;
  readonly #credentials: (registry: string) => Credentials | undefined;
  readonly #idleMs: number | undefined;
  /** Scheme that worked per host, for insecure hosts tried with HTTPS first. */
  readonly #scheme = new Map<string, 'https:' | 'http:'>();
  /** Authorization per "host repository". */
  readonly #auth = new Map<string, Token>();

  constructor(o: RegistryClientOptions = {}) {
    this.#insecure = new Set(o.insecureRegistries ?? []);
    this.#credentials = o.credentials ?? (() => undefined);
    this.#idleMs = o.idleTimeoutMs;
  }

  isInsecure(ref: Pick<ImageReference, 'host' | 'registry'>): boolean {
    return isLoopbackRegistry(ref.host) || this.#insecure.has(ref.host) || this.#insecure.has(ref.registry);
  }

  /** The manifest or index at `reference` (a tag or a digest); a digest reference is verified. */
  async manifest(ref: ImageReference, reference: string, signal?: AbortSignal): Promise<Fetched> {
    const res = await this.#send(ref, `manifests/${reference}`, { accept: MANIFEST_ACCEPT }, signal);
    const body = await readBody(res, MAX_MANIFEST_BYTES, `manifest ${ref.repository}:${reference}`);
    const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
    if (reference.startsWith('sha256:') && digest !== reference) {
      throw new RegistryError(`manifest ${reference}: digest mismatch: the registry sent content with digest ${digest}`, res.statusCode, true);
    }
    return { body, contentType: res.headers['content-type'], digest };
  }

  /** A small blob (an image config), read whole and verified. */
  async smallBlob(ref: ImageReference, digest: string, signal?: AbortSignal): Promise<Buffer> {
    const res = await this.blob(ref, digest, 0, signal);
    const body = await readBody(res.stream, MAX_MANIFEST_BYTES, `blob ${digest}`);
    const got = `sha256:${createHash('sha256').update(body).digest('hex')}`;
    if (got !== digest) throw new RegistryError(`blob ${digest}: digest mismatch: the registry sent content with digest ${got}`, 200, true);
    return body;
  }

  /**
   * Starts a blob download. With `offset` > 0 a Range request resumes it; `resumed` says
   * whether the registry honoured it (206) — if not, the body starts at byte 0.
   */
  async blob(ref: ImageReference, digest: string, offset = 0, signal?: AbortSignal): Promise<{ stream: IncomingMessage; resumed: boolean; length: number | undefined }> {
    const headers: Record<string, string> = {};
    if (offset > 0) headers.range = `bytes=${offset}-`;
    const res = await this.#send(ref, `blobs/${digest}`, headers, signal, offset > 0 ? [416] : []);
    if (res.statusCode === 416) {
      // Asked past the end: the partial file is already complete (or wrong); start over.
      res.resume();
      return this.blob(ref, digest, 0, signal);
    }
    const len = res.headers['content-length'];
    return { stream: res, resumed: res.statusCode === 206, length: len !== undefined ? Number(len) : undefined };
  }

  // ---- transport ------------------------------------------------------------------------------

  async #baseUrl(ref: ImageReference, signal?: AbortSignal): Promise<string> {
    let scheme = this.#scheme.get(ref.host);
    if (!scheme) {
      if (!this.isInsecure(ref)) scheme = 'https:';
      else {
        // As docker does for insecure registries: HTTPS (unverified) if the port speaks it, else HTTP.
        try {
          const res = await request(new URL(`https://${ref.host}/v2/`), { insecureTls: true, signal, idleTimeoutMs: 10_000 });
          res.resume();
          scheme = 'https:';
        } catch (e) {
          if (signal?.aborted) throw e;
          if (!isTlsMismatch(e)) throw this.#networkError(ref, e);
          scheme = 'http:';
        }
      }
      this.#scheme.set(ref.host, scheme);
    }
    return `${scheme}//${ref.host}/v2/${ref.repository}/`;
  }

  #networkError(ref: ImageReference, e: unknown): RegistryError {
    const msg = (e as Error).message;
    return new RegistryError(`registry ${ref.registry}: ${msg}`, undefined, true);
  }

  /**
   * GET base+path with authorization, answering a 401 challenge once, following redirects (the
   * Authorization header only goes to the registry's own host). Non-2xx answers become
   * RegistryErrors, except the statuses in `pass`.
   */
  async #send(ref: ImageReference, path: string, headers: Record<string, string>, signal: AbortSignal | undefined, pass: number[] = []): Promise<IncomingMessage> {
    const base = await this.#baseUrl(ref, signal);
    const authKey = `${ref.host} ${ref.repository}`;
    const insecureTls = this.isInsecure(ref);
    let challenged = false;
    for (;;) {
      let url = new URL(path, base);
      const token = this.#auth.get(authKey);
      let auth = token && token.expiresAt > Date.now() ? token.header : undefined;
      let res: IncomingMessage;
      for (let hop = 0; ; hop++) {
        try {
          res = await request(url, { headers: { ...headers, ...(auth && { authorization: auth }) }, insecureTls, signal, ...(this.#idleMs !== undefined && { idleTimeoutMs: this.#idleMs }) });
        } catch (e) {
          if (signal?.aborted) throw e;
          throw this.#networkError(ref, e);
        }
        const loc = res.headers.location;
        if (res.statusCode && [301, 302, 303, 307, 308].includes(res.statusCode) && loc) {
          res.resume();
          if (hop >= MAX_REDIRECTS) throw new RegistryError(`registry ${ref.registry}: more than ${MAX_REDIRECTS} redirects for ${path}`, res.statusCode, false);
          const next = new URL(loc, url);
          // A redirect to storage elsewhere (S3, a CDN) carries its own signature, not our token.
          if (next.host !== url.host) auth = undefined;
          if (next.protocol === 'http:' && url.protocol === 'https:' && !insecureTls) {
            throw new RegistryError(`registry ${ref.registry}: refusing a redirect from HTTPS to plain HTTP (${next.host})`, res.statusCode, false);
          }
          url = next;
          continue;
        }
        break;
      }
      const status = res.statusCode ?? 0;
      if (status === 401 && !challenged) {
        challenged = true;
        const header = res.headers['www-authenticate'];
        res.resume();
        await this.#authorize(ref, authKey, Array.isArray(header) ? header.join(', ') : header, signal);
        continue;
      }
      if ((status >= 200 && status < 300) || pass.includes(status)) return res;
      throw await this.#errorOf(ref, path, res);
    }
  }

  /** Answers a challenge: a Basic header from the credentials, or a bearer token from the realm. */
  async #authorize(ref: ImageReference, authKey: string, header: string | undefined, signal: AbortSignal | undefined): Promise<void> {
    const creds = this.#credentials(ref.registry);
    const challenges = parseChallenges(header ?? '');
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic = challenges.find((c) => c.scheme === 'basic');
    if (bearer) {
      this.#auth.set(authKey, await this.#token(ref, bearer.params, creds, signal));
      return;
    }
    if (basic) {
      if (!creds) throw new RegistryError(`registry ${ref.registry}: authentication required (Basic), and no credentials are configured for it`, 401, false);
      this.#auth.set(authKey, { header: basicAuthorization(creds), expiresAt: Infinity });
      return;
    }
    throw new RegistryError(`registry ${ref.registry}: 401 Unauthorized with ${header ? `an unsupported challenge "${header}"` : 'no WWW-Authenticate challenge'}`, 401, false);
  }

  /** The token exchange of the distribution spec's token authentication. */
  async #token(ref: ImageReference, params: Record<string, string>, creds: Credentials | undefined, signal: AbortSignal | undefined): Promise<Token> {
    const realm = params.realm;
    if (!realm) throw new RegistryError(`registry ${ref.registry}: bearer challenge without a realm`, 401, false);
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new RegistryError(`registry ${ref.registry}: bearer realm ${JSON.stringify(realm)} is not a URL`, 401, false);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new RegistryError(`registry ${ref.registry}: bearer realm ${realm} is not http(s)`, 401, false);
    const realmInsecure = isLoopbackRegistry(url.host) || this.#insecure.has(url.host) || this.isInsecure(ref);
    if (url.protocol === 'http:' && creds && !realmInsecure) {
      throw new RegistryError(`registry ${ref.registry}: refusing to send credentials to the plain-HTTP token realm ${realm}`, 401, false);
    }
    if (params.service) url.searchParams.set('service', params.service);
    url.searchParams.append('scope', params.scope || `repository:${ref.repository}:pull`);
    if (creds) url.searchParams.set('account', creds.username);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (creds) headers.authorization = basicAuthorization(creds);
    let res: IncomingMessage;
    try {
      res = await request(url, { headers, insecureTls: realmInsecure, signal, ...(this.#idleMs !== undefined && { idleTimeoutMs: this.#idleMs }) });
    } catch (e) {
      if (signal?.aborted) throw e;
      throw new RegistryError(`registry ${ref.registry}: token realm ${url.origin}: ${(e as Error).message}`, undefined, true);
    }
    const status = res.statusCode ?? 0;
    const body = await readBody(res, 1 << 20, 'token response').catch((e: unknown) => {
      throw new RegistryError(`registry ${ref.registry}: token realm: ${(e as Error).message}`, status, true);
    });
    if (status === 401 || status === 403) {
      throw new RegistryError(`registry ${ref.registry}: the token service refused ${creds ? `the credentials of "${creds.username}"` : 'anonymous access'} (${status})`, status, false);
    }
    if (status < 200 || status >= 300) throw new RegistryError(`registry ${ref.registry}: token service answered ${status}`, status, status >= 500 || status === 429);
    let doc: { token?: string; access_token?: string; expires_in?: number };
    try {
      doc = JSON.parse(body.toString('utf8')) as typeof doc;
    } catch {
      throw new RegistryError(`registry ${ref.registry}: the token service sent no JSON`, status, false);
    }
    const token = doc.token || doc.access_token;
    if (typeof token !== 'string' || token === '') throw new RegistryError(`registry ${ref.registry}: the token service's answer has no token`, status, false);
    // The spec's default lifetime is 60 s; renew a little early.
    const ttl = typeof doc.expires_in === 'number' && doc.expires_in > 0 ? doc.expires_in : 60;
    return { header: `Bearer ${token}`, expiresAt: Date.now() + Math.max(1, ttl - 10) * 1000 };
  }

  /** A non-2xx answer as a RegistryError carrying the registry's own error code and message. */
  async #errorOf(ref: ImageReference, path: string, res: IncomingMessage): Promise<RegistryError> {
    const status = res.statusCode ?? 0;
    let detail = '';
    try {
      const body = await readBody(res, 64 << 10, 'error body');
      const doc = JSON.parse(body.toString('utf8')) as { errors?: { code?: string; message?: string }[] };
      detail = (doc.errors ?? []).map((e) => [e.code, e.message].filter(Boolean).join(': ')).join('; ');
    } catch {
      res.destroy();
    }
    const what = path.startsWith('manifests/') ? `manifest ${ref.repository}:${path.slice(10)}` : `blob ${path.slice(6)} of ${ref.repository}`;
    const retryable = status >= 500 || status === 429 || status === 408;
    let text: string;
    if (status === 404) text = `${what} not found in ${ref.registry}`;
    else if (status === 401 || status === 403) text = `${what}: access denied by ${ref.registry} (${status})`;
    else text = `${what}: ${ref.registry} answered ${status}`;
    return new RegistryError(detail ? `${text} (${detail})` : text, status, retryable);
  }
}

export { NetworkError };
