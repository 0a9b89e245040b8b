// sandkasten.yaml: read, overlay SANDKASTEN_* environment variables (api-schemas' applyConfigEnv),
// validate against the Config schema, fill defaults. Every failure is a ConfigError naming the key
// or the variable.

import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import {
  applyConfigDefaults,
  applyConfigEnv,
  configEnvVars,
  validateConfig,
  type ResolvedConfig,
  type SandkastenConfig,
} from '@sandkasten/api-schemas';

export type { ResolvedConfig, SandkastenConfig };
export { BUNDLED_NODE_AGENT, BUNDLED_RUNNER, nodeAgentPath, runnerPath } from './binaries.js';

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

/** The variable among `applied` that set `field` ("defaults.cpu_limit", "allowed_images[1]"). */
function variableFor(field: string, applied: readonly string[]): string | undefined {
  const covers = (key: string) => field === key || field.startsWith(`${key}.`) || field.startsWith(`${key}[`);
  return configEnvVars().find((v) => applied.includes(v.name) && covers(v.path.join('.')))?.name;
}

/**
 * Validates and fills defaults; the first problem becomes a ConfigError naming its key (and the
 * SANDKASTEN_* variable, when one of `applied` set it).
 */
export function resolveConfig(config: Record<string, unknown>, source: string, applied: readonly string[] = []): ResolvedConfig {
  const r = validateConfig(config);
  if (r.unknownFields.length > 0) {
    const f = r.unknownFields[0]!;
    throw new ConfigError(`${source}: unknown key "${f}"`, f);
  }
  if (r.causes.length > 0) {
    const msgs = r.causes.map((c) => {
      const from = variableFor(c.field, applied);
      return `${c.field}: ${c.message}${from ? ` (set by ${from})` : ''}`;
    });
    throw new ConfigError(`${source}: ${msgs.join('; ')}`, r.causes[0]!.field);
  }
  return applyConfigDefaults(config as SandkastenConfig);
}

/**
 * Loads the daemon's configuration: the YAML file (absent path = defaults only), then the
 * SANDKASTEN_* environment overrides, validated, with defaults filled in.
 */
export function loadConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env): ResolvedConfig {
  let file: Record<string, unknown> = {};
  if (path !== undefined) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new ConfigError(`cannot read config file ${path}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
    }
    file = parseConfigText(text, path);
  }
  const { config, applied, causes } = applyConfigEnv(file, env);
  if (causes.length > 0) throw new ConfigError(causes.map((c) => `${c.field}: ${c.message}`).join('; '), causes[0]!.field);
  return resolveConfig(config, path ?? 'config', applied);
}
