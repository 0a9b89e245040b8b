// `sandkasten init`: a config file with a fresh api_key (never overwriting one that exists), the
// data_dir layout, and the built-in image. Running it again changes nothing that is in place.

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, chmodSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { getSchema, type JsonSchema } from '@sandkasten/api-schemas';
import { loadConfig, type ResolvedConfig } from '../config/index.js';
import { prepareBuiltinImage, readImageMeta, type ImageMeta } from '../images/index.js';

export class InitError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'InitError';
  }
}

/**
 * data_dir's folders and their modes. Image content is traversable (0711: no listing) so a
 * sandbox's mapped root in a user namespace can reach its lower layers; what sandboxes write —
 * session layers and workspaces — is closed to other host users.
 */
export const DATA_DIR_LAYOUT: { path: string; mode: number }[] = [
  { path: '', mode: 0o711 },
  { path: 'images', mode: 0o711 },
  { path: 'layers', mode: 0o711 },
  { path: 'sessions', mode: 0o700 },
  { path: 'workspaces', mode: 0o700 },
];

/** 32 random bytes as 64 hex digits. */
export function generateApiKey(): string {
  return randomBytes(32).toString('hex');
}

// ---- the config file -------------------------------------------------------------------------

const ACTIVE_KEYS = ['listen', 'api_key', 'data_dir'];

function resolveRef(s: JsonSchema): JsonSchema {
  const ref = s.$ref as string | undefined;
  if (!ref) return s;
  const defs = getSchema('Config').definitions as Record<string, JsonSchema>;
  return defs[ref.replace('#/definitions/', '')] ?? s;
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

function describe(s: JsonSchema): string {
  const text = (s.description as string | undefined) ?? '';
  const values = Array.isArray(s.enum) ? (s.enum as unknown[]).map(String) : [];
  const enumText = values.length > 0 && !values.every((v) => text.includes(v)) ? ` One of: ${values.join(', ')}.` : '';
  return `${text}${enumText}`.trim();
}

const yamlValue = (v: unknown) => stringify(v, { lineWidth: 0 }).trim();

/**
 * The text of a new sandkasten.yaml: listen, api_key and data_dir set, every other key present
 * as a commented-out default with its description — taken from the Config schema, so it never
 * falls behind it.
 */
export function renderConfig(values: { apiKey: string; dataDir: string; listen?: string }): string {
  const schema = getSchema('Config');
  const props = schema.properties as Record<string, JsonSchema>;
  const active: Record<string, unknown> = { listen: values.listen ?? props.listen?.default, api_key: values.apiKey, data_dir: values.dataDir };
  const out = [
    '# sandkasten.yaml, written by `sandkasten init`. Every key is optional; commented-out keys show',
    '# their defaults. Each key can also be set by a SANDKASTEN_* environment variable',
    '# (SANDKASTEN_LISTEN, SANDKASTEN_DEFAULTS_MEM_LIMIT_MB, ...), which wins over this file.',
    '# This file holds the API key: keep it private (mode 0600).',
    '',
  ];
  for (const [key, raw] of Object.entries(props)) {
    const s = resolveRef(raw);
    for (const l of wrap(describe(s) || describe(raw), 95)) out.push(`# ${l}`);
    if (ACTIVE_KEYS.includes(key)) {
      out.push(`${key}: ${yamlValue(active[key])}`, '');
      continue;
    }
    const children = s.type === 'object' ? (s.properties as Record<string, JsonSchema> | undefined) : undefined;
    if (children && Object.keys(children).length > 0) {
      out.push(`# ${key}:`);
      for (const [ck, cs] of Object.entries(children)) {
        const d = describe(cs);
        out.push(`#   ${ck}: ${yamlValue(cs.default)}${d ? `  # ${d}` : ''}`);
      }
    } else {
      out.push(`# ${key}: ${yamlValue(s.default)}`);
    }
    out.push('');
  }
  return out.join('\n');
}

// ---- init ------------------------------------------------------------------------------------

export interface InitOptions {
  configFile: string;
  /** data_dir written into a new config file (default: the schema's). */
  dataDir?: string;
  /** The host filesystem the built-in image is made from (tests); default "/". */
  hostRoot?: string;
  env?: NodeJS.ProcessEnv;
}

export interface InitResult {
  configFile: string;
  configCreated: boolean;
  config: ResolvedConfig;
  /** Folders made by this run. */
  created: string[];
  image: ImageMeta;
  /** The image was created or brought up to date (false: it was already current). */
  imageChanged: boolean;
  /** Things worth telling the user. */
  notes: string[];
}

function describeError(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code === 'EACCES' || err.code === 'EPERM' ? `${err.message} (run as root?)` : err.message;
}

function writeNewConfig(path: string, dataDir: string | undefined): boolean {
  const text = renderConfig({ apiKey: generateApiKey(), dataDir: dataDir ?? (getSchema('Config').properties as Record<string, JsonSchema>).data_dir!.default as string });
  try {
    mkdirSync(dirname(path), { recursive: true });
    // 'wx': never replaces a file, even one that appeared since we looked.
    writeFileSync(path, text, { flag: 'wx', mode: 0o600 });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new InitError(`cannot write ${path}: ${describeError(e)}`);
  }
}

function makeLayout(dataDir: string, created: string[], notes: string[]): void {
  for (const { path, mode } of DATA_DIR_LAYOUT) {
    const p = path ? join(dataDir, path) : dataDir;
    if (existsSync(p)) {
      const st = statSync(p);
      if (!st.isDirectory()) throw new InitError(`${p} exists and is not a directory`);
      if ((st.mode & 0o777 & ~mode) !== 0) notes.push(`${p} has mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}; sandkasten makes it ${mode.toString(8).padStart(4, '0')}`);
      continue;
    }
    try {
      mkdirSync(p, { recursive: true });
      chmodSync(p, mode); // exact, whatever the umask
    } catch (e) {
      throw new InitError(`cannot create ${p}: ${describeError(e)}`);
    }
    created.push(p);
  }
}

export function initHost(o: InitOptions): InitResult {
  const configFile = resolve(o.configFile);
  if (o.dataDir !== undefined && !o.dataDir.startsWith('/')) throw new InitError(`--data-dir must be an absolute path, not ${JSON.stringify(o.dataDir)}`, 2);
  const configCreated = !existsSync(configFile) && writeNewConfig(configFile, o.dataDir);
  const notes: string[] = [];
  let config: ResolvedConfig;
  try {
    config = loadConfig(configFile, o.env ?? process.env);
  } catch (e) {
    throw new InitError((e as Error).message, 2);
  }
  if (!configCreated && o.dataDir !== undefined && o.dataDir !== config.data_dir) {
    notes.push(`--data-dir ignored: ${configFile} exists and sets data_dir ${config.data_dir}`);
  }
  if (!config.api_key) notes.push(`${configFile} sets no api_key: the API is open to anyone who can reach it (the daemon allows this on loopback only)`);
  const created: string[] = [];
  makeLayout(config.data_dir, created, notes);
  let before: string | undefined;
  try {
    before = readImageMeta(config.data_dir, 'base')?.digest;
  } catch {
    before = undefined;
  }
  let image: ImageMeta;
  try {
    image = prepareBuiltinImage(config.data_dir, o.hostRoot ? { hostRoot: o.hostRoot } : {});
  } catch (e) {
    throw new InitError(`cannot prepare the built-in image in ${config.data_dir}/images/base: ${describeError(e)}`);
  }
  return { configFile, configCreated, config, created, image, imageChanged: before !== image.digest, notes };
}

/** What `sandkasten init` prints. */
export function formatInit(r: InitResult): string {
  const lines = [
    r.configCreated ? `wrote ${r.configFile} (mode 0600, with a new random api_key)` : `${r.configFile} exists: kept as it is (not overwritten)`,
    ...(r.created.length > 0 ? r.created.map((d) => `created ${d}`) : [`${r.config.data_dir}: layout in place`]),
    `image base (builtin://host): ${r.imageChanged ? 'prepared' : 'up to date'} in ${r.config.data_dir}/images/base`,
    ...r.notes.map((n) => `note: ${n}`),
    '',
    'Next steps:',
    `  sandkasten --config ${r.configFile} doctor    check that this host can run sandboxes`,
    `  sandkasten --config ${r.configFile}           start the daemon (as root), on ${r.config.listen}`,
    `  Clients authenticate with "Authorization: Bearer <api_key>" (the key is in ${r.configFile}).`,
  ];
  return `${lines.join('\n')}\n`;
}
