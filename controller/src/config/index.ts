// sandkasten.yaml: read, overlay SANDKASTEN_* environment variables, validate against the Config
// schema of @sandkasten/api-schemas, fill defaults. Every failure is a ConfigError naming the key.

import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { applyConfigDefaults, getSchema, validateConfig, type ResolvedConfig, type SandkastenConfig } from '@sandkasten/api-schemas';

export type { ResolvedConfig, SandkastenConfig };

export class ConfigError extends Error {
  constructor(
    message: string,
    /** The offending key ("defaults.mem_limit_mb") or environment variable, when there is one. */
    readonly key?: string,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Schema = Record<string, unknown>;

interface EnvKey {
  /** Path into the config, e.g. ["defaults", "mem_limit_mb"]. */
  path: string[];
  env: string;
  schema: Schema;
}

/** Every leaf key of the Config schema with its SANDKASTEN_* variable (defaults.cpu_limit → SANDKASTEN_DEFAULTS_CPU_LIMIT). */
export function environmentKeys(): EnvKey[] {
  const root = getSchema('Config') as Schema;
  const defs = (root.definitions ?? {}) as Record<string, Schema>;
  const deref = (s: Schema): Schema => {
    const ref = s.$ref;
    return typeof ref === 'string' && ref.startsWith('#/definitions/') ? (defs[ref.slice(14)] ?? s) : s;
  };
  const out: EnvKey[] = [];
  const walk = (schema: Schema, path: string[]) => {
    const s = deref(schema);
    if (s.type === 'object' && s.properties) {
      for (const [k, v] of Object.entries(s.properties as Record<string, Schema>)) walk(v, [...path, k]);
      return;
    }
    out.push({ path, env: `SANDKASTEN_${path.join('_').toUpperCase()}`, schema: s });
  };
  walk(root, []);
  return out;
}

/** An environment value converted to the key's type (comma lists, key=value maps, numbers, booleans). */
function coerce(k: EnvKey, raw: string): unknown {
  const t = k.schema.type;
  const fail = (what: string) => new ConfigError(`${k.env}=${JSON.stringify(raw)}: ${what} (overrides ${k.path.join('.')})`, k.env);
  switch (t) {
    case 'integer':
    case 'number': {
      const n = Number(raw.trim());
      if (raw.trim() === '' || !Number.isFinite(n) || (t === 'integer' && !Number.isInteger(n))) throw fail(`must be ${t === 'integer' ? 'an integer' : 'a number'}`);
      return n;
    }
    case 'boolean': {
      const v = raw.trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(v)) return true;
      if (['0', 'false', 'no', 'off', ''].includes(v)) return false;
      throw fail('must be true or false');
    }
    case 'array':
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
    case 'object': {
      // A map such as pool.images: "python=2,node=1".
      const out: Record<string, unknown> = {};
      for (const part of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
        const eq = part.indexOf('=');
        if (eq <= 0) throw fail('must be a comma-separated list of key=value');
        const v = part.slice(eq + 1).trim();
        out[part.slice(0, eq).trim()] = /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v;
      }
      return out;
    }
    default:
      return raw;
  }
}

function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let cur = obj;
  for (const p of path.slice(0, -1)) {
    const next = cur[p];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[path[path.length - 1]!] = value;
}

/** Parses YAML config text (empty = all defaults); `source` names it in errors. */
export function parseConfigText(text: string, source: string): Record<string, unknown> {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const pos = e.linePos?.[0];
    throw new ConfigError(`${source}${pos ? `:${pos.line}:${pos.col}` : ''}: invalid YAML: ${e.message.split('\n')[0]}`);
  }
  const v = doc.toJS() as unknown;
  if (v === null || v === undefined) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(`${source}: the config must be a mapping of keys (listen, api_key, data_dir, …)`);
  return v as Record<string, unknown>;
}

/** Applies SANDKASTEN_* overrides (only variables that are set) onto a parsed config, in place. */
export function applyEnvironment(config: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  for (const k of environmentKeys()) {
    const raw = env[k.env];
    if (raw !== undefined) setPath(config, k.path, coerce(k, raw));
  }
}

/** Validates and fills defaults; the first problem becomes a ConfigError naming its key. */
export function resolveConfig(config: Record<string, unknown>, source: string): ResolvedConfig {
  const r = validateConfig(config);
  if (r.unknownFields.length > 0) {
    const f = r.unknownFields[0]!;
    throw new ConfigError(`${source}: unknown key "${f}"`, f);
  }
  if (r.causes.length > 0) {
    const msgs = r.causes.map((c) => `${c.field}: ${c.message}`);
    throw new ConfigError(`${source}: ${msgs.join('; ')}`, r.causes[0]!.field);
  }
  return applyConfigDefaults(config as SandkastenConfig);
}

/**
 * Loads the daemon's configuration: the YAML file (absent path = defaults only), then the
 * SANDKASTEN_* environment overrides, validated, with defaults filled in.
 */
export function loadConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env): ResolvedConfig {
  let config: Record<string, unknown> = {};
  const source = path ?? 'config';
  if (path !== undefined) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new ConfigError(`cannot read config file ${path}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
    }
    config = parseConfigText(text, path);
  }
  applyEnvironment(config, env);
  return resolveConfig(config, source);
}
