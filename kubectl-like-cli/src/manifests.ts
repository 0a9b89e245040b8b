// Manifests from -f: files (YAML, several documents each, or JSON), directories (their .yaml,
// .yml and .json files in name order; -R descends), or "-" for standard input. A `kind: List`
// (or SessionList …) contributes its items.

import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ObjectLike } from '@sandkasten/client';
import { CliError } from './errors.js';

export interface Manifest {
  /** Where it came from: "dir/a.yaml" (document 2) — for messages. */
  source: string;
  object: ObjectLike;
}

const EXTENSIONS = /\.(ya?ml|json)$/i;

export async function readManifests(paths: string[], recursive: boolean): Promise<Manifest[]> {
  if (paths.length === 0) throw new CliError('must specify -f FILE (a file, a directory, or - for standard input)');
  const { parseAllDocuments } = await import('yaml');
  const out: Manifest[] = [];
  const parse = (text: string, source: string) => {
    const docs = parseAllDocuments(text, { prettyErrors: true });
    // A stream with no documents is parsed as an empty list (not an array of documents).
    if (!Array.isArray(docs)) return;
    docs.forEach((doc, i) => {
      const where = docs.length > 1 ? `${source} (document ${i + 1})` : source;
      if (doc.errors.length > 0) throw new CliError(`error parsing ${where}: ${doc.errors[0]!.message}`);
      const value = doc.toJS() as unknown;
      if (value === null || value === undefined) return;
      add(value, where);
    });
  };
  const add = (value: unknown, where: string) => {
    if (typeof value !== 'object' || Array.isArray(value)) throw new CliError(`error parsing ${where}: expected an object with apiVersion, kind and metadata`);
    const v = value as Record<string, unknown>;
    if (typeof v.kind === 'string' && v.kind.endsWith('List') && Array.isArray(v.items)) {
      v.items.forEach((item, j) => add(item, `${where} item ${j}`));
      return;
    }
    if (typeof v.kind !== 'string' || typeof v.apiVersion !== 'string') {
      throw new CliError(`error validating ${where}: apiVersion and kind must be set`);
    }
    const meta = v.metadata as Record<string, unknown> | undefined;
    if (typeof meta !== 'object' || meta === null || typeof meta.name !== 'string' || meta.name === '') {
      throw new CliError(`error validating ${where}: metadata.name must be set`);
    }
    out.push({ source: where, object: v as unknown as ObjectLike });
  };
  for (const p of paths) {
    if (p === '-') {
      parse(await readStdin(), 'standard input');
      continue;
    }
    let st;
    try {
      st = statSync(p);
    } catch {
      throw new CliError(`the path "${p}" does not exist`);
    }
    if (st.isDirectory()) {
      for (const f of listDir(p, recursive)) parse(readText(f), f);
    } else {
      parse(readText(p), p);
    }
  }
  return out;
}

function listDir(dir: string, recursive: boolean): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) {
      if (recursive) out.push(...listDir(p, true));
    } else if (EXTENSIONS.test(name)) {
      out.push(p);
    }
  }
  return out;
}

function readText(p: string): string {
  try {
    return readFileSync(p, 'utf8');
  } catch (e) {
    throw new CliError(`cannot read ${p}: ${(e as Error).message}`);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
