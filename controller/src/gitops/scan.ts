// Reading a GitOps directory: every *.yaml, *.yml and *.json file below it (dot files and dot
// directories skipped), each parsed into its documents, each document checked for what can be
// known without the API (apiVersion, a kind GitOps manages, a name), duplicates found. The result
// says, per file, whether it is whole: a file with any error is "broken", and nothing of a broken
// file is applied or pruned.

import { readFile, readdir, realpath, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { findResourceByKind, GROUP_VERSION, resources, type ResourceInfo } from '@sandkasten/api-schemas';

/** Files larger than this are refused (the API's own body limit is 3 MiB). */
export const MAX_FILE_BYTES = 4 * 1024 * 1024;

const EXTENSIONS = /\.(ya?ml|json)$/i;

/** The kinds users declare: the only ones a GitOps directory may hold. */
export const MANAGED_KINDS: readonly ResourceInfo[] = resources.filter((r) => r.categories?.includes('sandkasten'));

export type JsonObject = Record<string, unknown>;

/** One object a manifest declares. */
export interface Manifest {
  /** The file, relative to the directory, with "/" separators. */
  file: string;
  /** Index of the YAML document in the file, from 0. */
  document: number;
  /** For an item of a `kind: List` document: "items[3]." (prefixes field paths); else "". */
  fieldPrefix: string;
  info: ResourceInfo;
  /** "" for cluster-scoped kinds. */
  namespace: string;
  name: string;
  /** The object as written (a namespace on a cluster-scoped kind dropped, as kubectl does). */
  object: JsonObject;
}

export interface ManifestError {
  file: string;
  document?: number;
  field?: string;
  message: string;
}

export interface ScanResult {
  /** Every manifest file found, relative, sorted. */
  files: string[];
  /** The objects of files without errors, in file and document order. */
  manifests: Manifest[];
  errors: ManifestError[];
  /** Files with at least one error: none of their objects is applied or pruned. */
  broken: Set<string>;
  /**
   * Files whose objects could not all be identified (unreadable, not YAML, a document without
   * kind or name): what they declare is unknown, so objects whose file is gone may be in them.
   */
  unknown: Set<string>;
  /** Objects (objectKey) named by documents of broken files: kept, whatever their source file. */
  heldKeys: Set<string>;
}

/** Thrown when the directory itself cannot be read: nothing is known, nothing may be pruned. */
export class DirectoryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DirectoryError';
  }
}

/** "Session/default/dev": the identity of an object across files and the store. */
export function objectKey(kind: string, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}

const errMessage = (e: unknown) => {
  const err = e as NodeJS.ErrnoException;
  return err.code === 'ENOENT' ? 'no such file or directory' : err.code === 'EACCES' ? 'permission denied' : (err.message ?? String(e));
};

/** Lists the manifest files below dir (relative, "/"-separated, sorted) and the entries that cannot be read. */
async function listFiles(root: string, realRoot: string): Promise<{ files: string[]; errors: ManifestError[] }> {
  const files: string[] = [];
  const errors: ManifestError[] = [];
  const rel = (p: string) => relative(root, p).split(sep).join('/');
  const walk = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      if (dir === root) throw new DirectoryError(`cannot read directory ${root}: ${errMessage(e)}`);
      // A subdirectory that vanished during the walk (a checkout in progress) or is unreadable.
      errors.push({ file: rel(dir), message: `cannot read directory: ${errMessage(e)}` });
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const ent of entries) {
      if (ent.name.startsWith('.')) continue;
      const p = join(dir, ent.name);
      if (ent.isDirectory()) {
        await walk(p);
      } else if (EXTENSIONS.test(ent.name)) {
        if (ent.isSymbolicLink()) {
          // Followed only to a file inside the directory: a link must not expose other host files
          // (their text would end up in error messages).
          try {
            const target = await realpath(p);
            if (target !== realRoot && !target.startsWith(realRoot + sep)) {
              errors.push({ file: rel(p), message: 'symbolic link to a file outside the directory: not followed' });
              continue;
            }
            if (!(await stat(target)).isFile()) {
              errors.push({ file: rel(p), message: 'symbolic link to something other than a file: not followed' });
              continue;
            }
          } catch (e) {
            errors.push({ file: rel(p), message: `cannot follow symbolic link: ${errMessage(e)}` });
            continue;
          }
        } else if (!ent.isFile()) continue;
        files.push(rel(p));
      }
    }
  };
  await walk(root);
  return { files: files.sort(), errors };
}

/** Where a YAML error is, as "line L, column C: ". */
function position(e: { linePos?: [{ line: number; col: number }, ...unknown[]] }): string {
  const p = e.linePos?.[0];
  return p ? `line ${p.line}, column ${p.col}: ` : '';
}

interface Parsed {
  manifests: Manifest[];
  errors: ManifestError[];
  /** Identities named, even by invalid documents. */
  named: string[];
  /** Some document's objects could not be identified. */
  unidentified: boolean;
}

/** Parses one file's text into objects and errors. */
export function parseManifests(file: string, text: string): Parsed {
  const out: Parsed = { manifests: [], errors: [], named: [], unidentified: false };
  // prettyErrors computes linePos; the snippet it appends to the message is cut off below.
  const docs = parseAllDocuments(text, { prettyErrors: true, uniqueKeys: true });
  // A stream with no documents is an empty list-like object, not an array.
  if (!Array.isArray(docs)) return out;
  docs.forEach((doc, document) => {
    if (doc.errors.length > 0) {
      const e = doc.errors[0]!;
      const first = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
      out.errors.push({ file, document, message: `invalid YAML: ${position(e)}${first}` });
      out.unidentified = true;
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      out.errors.push({ file, document, message: `invalid YAML: ${(e as Error).message}` });
      out.unidentified = true;
      return;
    }
    if (value === null || value === undefined) return; // an empty document
    const items = isObject(value) && typeof value.kind === 'string' && value.kind.endsWith('List') && Array.isArray(value.items) ? (value.items as unknown[]) : undefined;
    if (items) items.forEach((item, i) => object(out, file, document, `items[${i}].`, item));
    else object(out, file, document, '', value);
  });
  return out;
}

function isObject(v: unknown): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Checks one object of a document and adds it (or its errors) to out. */
function object(out: Parsed, file: string, document: number, fieldPrefix: string, value: unknown): void {
  const fail = (field: string | undefined, message: string): void => {
    out.errors.push({ file, document, ...(field !== undefined || fieldPrefix ? { field: `${fieldPrefix}${field ?? ''}`.replace(/\.$/, '') } : {}), message });
  };
  if (!isObject(value)) {
    fail(undefined, 'expected a mapping with apiVersion, kind and metadata');
    out.unidentified = true;
    return;
  }
  const meta = value.metadata;
  const name = isObject(meta) && typeof meta.name === 'string' ? meta.name : '';
  const info = typeof value.kind === 'string' ? findResourceByKind(value.kind) : undefined;
  // Record the identity even of an invalid object: its live object must not be pruned meanwhile.
  if (info && name) {
    const ns = info.namespaced ? (isObject(meta) && typeof meta.namespace === 'string' && meta.namespace) || 'default' : '';
    out.named.push(objectKey(info.kind, ns, name));
  } else out.unidentified = true;
  if (typeof value.apiVersion !== 'string' || value.apiVersion === '') return fail('apiVersion', `Required value: apiVersion must be ${JSON.stringify(GROUP_VERSION)}`);
  if (value.apiVersion !== GROUP_VERSION) {
    return fail('apiVersion', `Unsupported value: ${JSON.stringify(value.apiVersion)}: supported values: ${JSON.stringify(GROUP_VERSION)}`);
  }
  if (typeof value.kind !== 'string' || value.kind === '') return fail('kind', 'Required value: kind must be set');
  if (!info || !MANAGED_KINDS.includes(info)) {
    return fail('kind', `Unsupported value: ${JSON.stringify(value.kind)}: supported values: ${MANAGED_KINDS.map((k) => `"${k.kind}"`).join(', ')}`);
  }
  if (!isObject(meta)) return fail('metadata', 'Required value: metadata with a name must be set');
  if (meta.generateName !== undefined) return fail('metadata.generateName', 'Forbidden: a manifest applied by GitOps needs a fixed name');
  if (!name) return fail('metadata.name', 'Required value: name is required');
  const obj = structuredClone(value);
  let namespace = '';
  if (info.namespaced) {
    if (meta.namespace !== undefined && typeof meta.namespace !== 'string') return fail('metadata.namespace', 'Invalid value: must be a string');
    namespace = (meta.namespace as string | undefined) || 'default';
    (obj.metadata as JsonObject).namespace = namespace;
  } else delete (obj.metadata as JsonObject).namespace;
  out.manifests.push({ file, document, fieldPrefix, info, namespace, name, object: obj });
}

/** Files read at once. */
const READ_CONCURRENCY = 16;

/** The texts of the files (relative to dir), in order, a few reads at a time. */
async function readAll(dir: string, files: string[]): Promise<({ text: string } | { error: string })[]> {
  const out: ({ text: string } | { error: string })[] = new Array(files.length);
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const i = next++;
      const p = join(dir, ...files[i]!.split('/'));
      try {
        if ((await stat(p)).size > MAX_FILE_BYTES) throw new Error(`file is larger than ${MAX_FILE_BYTES} bytes`);
        out[i] = { text: await readFile(p, 'utf8') };
      } catch (e) {
        out[i] = { error: errMessage(e) };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, files.length) }, worker));
  return out;
}

/** Reads and parses every manifest file below dir. Throws DirectoryError when dir cannot be read. */
export async function scanDirectory(dir: string): Promise<ScanResult> {
  let realRoot: string;
  try {
    realRoot = await realpath(dir);
    if (!(await stat(realRoot)).isDirectory()) throw new DirectoryError(`${dir} is not a directory`);
  } catch (e) {
    if (e instanceof DirectoryError) throw e;
    throw new DirectoryError(`cannot read directory ${dir}: ${errMessage(e)}`);
  }
  const listed = await listFiles(dir, realRoot);
  const result: ScanResult = { files: listed.files, manifests: [], errors: [], broken: new Set(), unknown: new Set(), heldKeys: new Set() };
  for (const e of listed.errors) {
    result.errors.push(e);
    result.broken.add(e.file);
    result.unknown.add(e.file);
  }
  const seen = new Map<string, Manifest>();
  const texts = await readAll(dir, listed.files);
  for (const [i, file] of listed.files.entries()) {
    const text = texts[i]!;
    // Gone since the listing (a checkout in progress) or unreadable: its content is unknown.
    const parsed: Parsed =
      'error' in text ? { manifests: [], errors: [{ file, message: `cannot read: ${text.error}` }], named: [], unidentified: true } : parseManifests(file, text.text);
    for (const m of parsed.manifests) {
      const key = objectKey(m.info.kind, m.namespace, m.name);
      const first = seen.get(key);
      if (first) {
        parsed.errors.push({
          file,
          document: m.document,
          field: `${m.fieldPrefix}metadata.name`,
          message: `Duplicate value: ${m.info.kind} ${m.namespace ? `${m.namespace}/` : ''}${m.name} is also declared in ${first.file} (document ${first.document})`,
        });
      } else seen.set(key, m);
    }
    if (parsed.errors.length > 0) {
      result.errors.push(...parsed.errors);
      result.broken.add(file);
      if (parsed.unidentified) result.unknown.add(file);
      for (const k of parsed.named) result.heldKeys.add(k);
      continue;
    }
    result.manifests.push(...parsed.manifests);
  }
  return result;
}
