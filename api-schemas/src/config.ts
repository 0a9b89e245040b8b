// The daemon's config file (sandkasten.yaml): defaults and validation from schemas/Config.json.
import { applyDefaults } from './defaults.js';
import type { ConfigGitops, SandkastenConfig } from './generated/Config.js';
import { deref, getSchema, schemaId, type JsonSchema, type SchemaCursor } from './schemas.js';
import type { FieldCause, ValidationResult } from './types.js';
import { validateAgainst } from './validate.js';

type DeepRequired<T> = T extends (infer U)[] ? DeepRequired<U>[] : T extends object ? { -readonly [K in keyof T]-?: DeepRequired<T[K]> } : T;

/**
 * A config with every key present (after applyConfigDefaults) — except gitops, whose presence is
 * what turns GitOps on (its own keys are then all present).
 */
export type ResolvedConfig = DeepRequired<Omit<SandkastenConfig, 'gitops'>> & { gitops?: DeepRequired<ConfigGitops> };

/** The default configuration: what an empty sandkasten.yaml means. A fresh copy on every call. */
export function loadConfigDefaults(): ResolvedConfig {
  return applyDefaults('Config', {}) as ResolvedConfig;
}

/** Fills every absent key of a (valid) config with its default. */
export function applyConfigDefaults(config: SandkastenConfig): ResolvedConfig {
  return applyDefaults('Config', config) as ResolvedConfig;
}

/** Validates a parsed config file; field paths look like "defaults.mem_limit_mb". */
export function validateConfig(config: unknown): ValidationResult {
  return validateAgainst('Config', config);
}

// ---------- SANDKASTEN_* environment overrides ----------

/** One environment variable that overrides one config key. */
export interface ConfigEnvVar {
  /** e.g. SANDKASTEN_DEFAULTS_CPU_LIMIT */
  name: string;
  /** e.g. ["defaults", "cpu_limit"] */
  path: string[];
  /** How the text is read: a string, a number, an integer, a boolean (true/false/1/0/yes/no), a comma-separated list, or k=v pairs. */
  form: 'string' | 'number' | 'integer' | 'boolean' | 'list' | 'map';
}

function collectEnvVars(c: SchemaCursor, path: string[], out: ConfigEnvVar[]): void {
  const s = deref(c);
  const props = s.schema.properties as Record<string, JsonSchema> | undefined;
  if (s.schema.type === 'object' && props) {
    for (const [k, p] of Object.entries(props)) collectEnvVars({ schema: p, base: s.base }, [...path, k], out);
    return;
  }
  const t = s.schema.type;
  const form: ConfigEnvVar['form'] =
    t === 'array' ? 'list' : t === 'object' ? 'map' : t === 'number' || t === 'integer' || t === 'boolean' ? t : 'string';
  out.push({ name: `SANDKASTEN_${path.join('_').toUpperCase()}`, path, form });
}

const envVars: readonly ConfigEnvVar[] = (() => {
  const out: ConfigEnvVar[] = [];
  collectEnvVars({ schema: getSchema('Config'), base: schemaId('Config') }, [], out);
  return out;
})();

/** Every SANDKASTEN_* variable the daemon reads, derived from the config schema. */
export function configEnvVars(): ConfigEnvVar[] {
  return envVars.map((v) => ({ ...v, path: [...v.path] }));
}

function parseScalar(text: string, form: 'string' | 'number' | 'integer' | 'boolean'): { value: unknown } | { error: string } {
  const t = text.trim();
  switch (form) {
    case 'string':
      return { value: text };
    case 'number':
    case 'integer': {
      const n = t === '' ? NaN : Number(t);
      if (!Number.isFinite(n) || (form === 'integer' && !Number.isInteger(n))) return { error: `must be ${form === 'integer' ? 'an integer' : 'a number'}` };
      return { value: n };
    }
    case 'boolean': {
      const l = t.toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(l)) return { value: true };
      if (['false', '0', 'no', 'off'].includes(l)) return { value: false };
      return { error: 'must be true or false' };
    }
  }
}

/**
 * A copy of config with every SANDKASTEN_* variable set in env applied over it. Lists are
 * comma-separated ("base,python"), maps are k=v pairs ("python=2,node=1"). Text that cannot be read
 * becomes a cause whose field is the variable's name; validate the result with validateConfig.
 */
export function applyConfigEnv(
  config: unknown,
  env: Record<string, string | undefined>,
): { config: Record<string, unknown>; applied: string[]; causes: FieldCause[] } {
  const out: Record<string, unknown> =
    config !== null && typeof config === 'object' && !Array.isArray(config) ? structuredClone(config as Record<string, unknown>) : {};
  const applied: string[] = [];
  const causes: FieldCause[] = [];
  for (const v of envVars) {
    const text = env[v.name];
    if (text === undefined) continue;
    let value: unknown;
    let error: string | undefined;
    if (v.form === 'list') {
      value = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
    } else if (v.form === 'map') {
      const itemForm = mapItemForm(v.path);
      const map: Record<string, unknown> = {};
      for (const pair of text.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
        const eq = pair.indexOf('=');
        const r = eq > 0 ? parseScalar(pair.slice(eq + 1), itemForm) : { error: 'must be a comma-separated list of key=value pairs' };
        if ('error' in r) {
          error = eq > 0 ? `${JSON.stringify(pair)} ${r.error}` : r.error;
          break;
        }
        map[pair.slice(0, eq).trim()] = r.value;
      }
      value = map;
    } else {
      const r = parseScalar(text, v.form);
      if ('error' in r) error = r.error;
      else value = r.value;
    }
    if (error !== undefined) {
      causes.push({ reason: 'FieldValueInvalid', field: v.name, message: `Invalid value: ${JSON.stringify(text)}: ${error}` });
      continue;
    }
    let node = out;
    for (const k of v.path.slice(0, -1)) {
      const next = node[k];
      if (next === null || typeof next !== 'object' || Array.isArray(next)) node[k] = {};
      node = node[k] as Record<string, unknown>;
    }
    node[v.path[v.path.length - 1] as string] = value;
    applied.push(v.name);
  }
  return { config: out, applied, causes };
}

function mapItemForm(path: string[]): 'string' | 'number' | 'integer' | 'boolean' {
  let c: SchemaCursor = deref({ schema: getSchema('Config'), base: schemaId('Config') });
  for (const k of path) c = deref({ schema: (c.schema.properties as Record<string, JsonSchema>)[k] as JsonSchema, base: c.base });
  const t = (c.schema.additionalProperties as JsonSchema | undefined)?.type;
  return t === 'number' || t === 'integer' || t === 'boolean' ? t : 'string';
}
