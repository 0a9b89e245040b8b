// skctl's configuration file: named contexts (server, API key, namespace, TLS) and the current
// one, like a kubeconfig with clusters and users folded into the context. It holds API keys, so
// it is written with mode 0600 in a 0700 directory, atomically (temp file + rename).
//
//   apiVersion: skctl.sandkasten.dev/v1
//   kind: Config
//   current-context: local
//   contexts:
//   - name: local
//     server: http://127.0.0.1:8080
//     api-key: s3cret
//     namespace: default
//     insecure-skip-tls-verify: false
//     certificate-authority: /etc/sandkasten/ca.pem

import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse, stringify } from 'yaml';
import { CliError } from './errors.js';

export interface ContextEntry {
  name: string;
  server?: string;
  'api-key'?: string;
  namespace?: string;
  'insecure-skip-tls-verify'?: boolean;
  'certificate-authority'?: string;
}

export interface ConfigFile {
  apiVersion?: string;
  kind?: string;
  'current-context'?: string;
  contexts: ContextEntry[];
}

/** --config, then $SKCTL_CONFIG, then $XDG_CONFIG_HOME/sandkasten/config.yaml, then ~/.config/…. */
export function configPath(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return flag;
  if (env.SKCTL_CONFIG) return env.SKCTL_CONFIG;
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, 'sandkasten', 'config.yaml');
}

const KEYS = new Set(['name', 'server', 'api-key', 'namespace', 'insecure-skip-tls-verify', 'certificate-authority']);

/** The file's contents; a missing file is an empty configuration. */
export function loadConfig(path: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { contexts: [] };
    throw new CliError(`cannot read ${path}: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (e) {
    throw new CliError(`${path} is not valid YAML: ${(e as Error).message}`);
  }
  if (raw === null || raw === undefined) return { contexts: [] };
  const bad = (what: string): never => {
    throw new CliError(`${path}: ${what}`);
  };
  if (typeof raw !== 'object' || Array.isArray(raw)) bad('expected a mapping with current-context and contexts');
  const r = raw as Record<string, unknown>;
  const cur = r['current-context'];
  if (cur !== undefined && cur !== null && typeof cur !== 'string') bad('current-context must be a string');
  const list = r.contexts ?? [];
  if (!Array.isArray(list)) bad('contexts must be a list');
  const contexts: ContextEntry[] = [];
  for (const [i, c] of (list as unknown[]).entries()) {
    if (typeof c !== 'object' || c === null || Array.isArray(c)) bad(`contexts[${i}] must be a mapping`);
    const e = c as Record<string, unknown>;
    if (typeof e.name !== 'string' || e.name === '') bad(`contexts[${i}].name must be a non-empty string`);
    for (const k of Object.keys(e)) if (!KEYS.has(k)) bad(`contexts[${i}]: unknown key ${JSON.stringify(k)}`);
    for (const k of ['server', 'api-key', 'namespace', 'certificate-authority'] as const) {
      if (e[k] !== undefined && typeof e[k] !== 'string') bad(`contexts[${i}].${k} must be a string`);
    }
    if (e['insecure-skip-tls-verify'] !== undefined && typeof e['insecure-skip-tls-verify'] !== 'boolean') {
      bad(`contexts[${i}].insecure-skip-tls-verify must be true or false`);
    }
    if (contexts.some((x) => x.name === e.name)) bad(`context ${JSON.stringify(e.name)} is defined twice`);
    contexts.push(e as unknown as ContextEntry);
  }
  return { 'current-context': (cur as string | undefined) ?? undefined, contexts };
}

export function saveConfig(path: string, cfg: ConfigFile): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const doc = {
    apiVersion: 'skctl.sandkasten.dev/v1',
    kind: 'Config',
    ...(cfg['current-context'] ? { 'current-context': cfg['current-context'] } : {}),
    contexts: cfg.contexts,
  };
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, stringify(doc, { indentSeq: false }), { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

export function findContext(cfg: ConfigFile, name: string): ContextEntry | undefined {
  return cfg.contexts.find((c) => c.name === name);
}
