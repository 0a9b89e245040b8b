// The daemon's config file (sandkasten.yaml): defaults and validation from schemas/Config.json.
import { applyDefaults } from './defaults.js';
import type { SandkastenConfig } from './generated/Config.js';
import type { ValidationResult } from './types.js';
import { validateAgainst } from './validate.js';

type DeepRequired<T> = T extends (infer U)[] ? DeepRequired<U>[] : T extends object ? { -readonly [K in keyof T]-?: DeepRequired<T[K]> } : T;

/** A config with every key present (after applyConfigDefaults). */
export type ResolvedConfig = DeepRequired<SandkastenConfig>;

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
