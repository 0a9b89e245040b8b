// Registry authentication: the WWW-Authenticate challenge (RFC 7235 syntax), credentials from a
// Docker-style auth file, and the Basic header. The bearer-token exchange itself is in client.ts.

import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DOCKER_HUB } from './reference.js';

export interface Challenge {
  /** Lowercase: "bearer", "basic". */
  scheme: string;
  /** Parameter names lowercased: realm, service, scope, error. */
  params: Record<string, string>;
}

export interface Credentials {
  username: string;
  password: string;
}

/**
 * Parses a WWW-Authenticate header value into its challenges. Handles quoted strings with
 * backslash escapes, commas inside quotes, several parameters and several challenges
 * (`Basic realm="x", Bearer realm="y",service="z"`).
 */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const n = header.length;
  const skipWs = () => {
    while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
  };
  const token = () => {
    const start = i;
    while (i < n && /[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(header[i]!)) i++;
    return header.slice(start, i);
  };
  let current: Challenge | undefined;
  while (i < n) {
    skipWs();
    if (header[i] === ',') {
      i++;
      continue;
    }
    const name = token();
    if (name === '') {
      i++; // not a token character: skip it
      continue;
    }
    skipWs();
    if (header[i] === '=' && current) {
      // An auth-param of the current challenge.
      i++;
      skipWs();
      let value = '';
      if (header[i] === '"') {
        i++;
        while (i < n && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < n) i++;
          value += header[i];
          i++;
        }
        i++; // closing quote
      } else {
        const vs = i;
        while (i < n && header[i] !== ',' && header[i] !== ' ') i++;
        value = header.slice(vs, i);
      }
      current.params[name.toLowerCase()] = value;
      continue;
    }
    if (header[i] === '=' && !current) {
      // A parameter before any scheme: malformed; skip to the next comma.
      while (i < n && header[i] !== ',') i++;
      continue;
    }
    // A new challenge starts with its scheme.
    current = { scheme: name.toLowerCase(), params: {} };
    out.push(current);
  }
  return out;
}

export function basicAuthorization(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

/** The auth files looked at when none is configured, first found wins (as podman and docker do). */
export function defaultAuthFiles(): string[] {
  const files: string[] = [];
  if (process.env.REGISTRY_AUTH_FILE) files.push(process.env.REGISTRY_AUTH_FILE);
  if (process.env.XDG_RUNTIME_DIR) files.push(join(process.env.XDG_RUNTIME_DIR, 'containers', 'auth.json'));
  files.push(join(process.env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json'));
  return files;
}

/** Keys a registry may be listed under in an auth file (Docker Hub has historical ones). */
function authKeys(registry: string): string[] {
  if (registry === DOCKER_HUB) return ['docker.io', 'https://index.docker.io/v1/', 'index.docker.io', 'registry-1.docker.io', 'https://registry-1.docker.io'];
  return [registry, `https://${registry}`, `http://${registry}`, `https://${registry}/v1/`, `https://${registry}/v2/`];
}

/**
 * Credentials for `registry` from a Docker/podman auth file ({"auths": {"host": {"auth":
 * base64("user:pass")}}}), or undefined. A file that exists but cannot be parsed is an error:
 * silently pulling anonymously would hide the mistake.
 */
export function credentialsFromAuthFile(registry: string, files: string[]): Credentials | undefined {
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new Error(`registry auth file ${file}: cannot read: ${(e as Error).message}`);
    }
    let doc: { auths?: Record<string, { auth?: string; username?: string; password?: string }> };
    try {
      doc = JSON.parse(text) as typeof doc;
    } catch (e) {
      throw new Error(`registry auth file ${file}: invalid JSON: ${(e as Error).message}`);
    }
    const auths = doc.auths ?? {};
    for (const key of authKeys(registry)) {
      const entry = auths[key];
      if (!entry) continue;
      if (entry.username !== undefined && entry.password !== undefined) return { username: entry.username, password: entry.password };
      if (entry.auth) {
        const plain = Buffer.from(entry.auth, 'base64').toString('utf8');
        const colon = plain.indexOf(':');
        if (colon < 0) throw new Error(`registry auth file ${file}: auths["${key}"].auth is not base64 of "user:password"`);
        return { username: plain.slice(0, colon), password: plain.slice(colon + 1) };
      }
    }
  }
  return undefined;
}
