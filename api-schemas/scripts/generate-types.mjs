#!/usr/bin/env node
// Generates src/generated/*.ts from schemas/*.json with json-schema-to-typescript.
// One TS file per schema file; a $ref to another schema file becomes an `import type` instead of a
// second copy of that type, so every type is declared exactly once.
// Usage: node scripts/generate-types.mjs          (writes the files)
//        node scripts/generate-types.mjs --check  (exit 1 when the checked-in files are stale)
import { readFileSync, readdirSync, writeFileSync, mkdirSync, existsSync, unlinkSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { compile } from 'json-schema-to-typescript';

const pkgRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
export const schemaDir = join(pkgRoot, 'schemas');
export const generatedDir = join(pkgRoot, 'src', 'generated');

const banner = (file) =>
  `// Generated from schemas/${file} by scripts/generate-types.mjs — do not edit.\n` +
  `// Change the schema and run \`npm run generate -w api-schemas\`.`;

/** Replaces every $ref to another schema file by a tsType naming that file's title; returns the titles. */
function externalize(node, titles, used) {
  if (Array.isArray(node)) return node.map((n) => externalize(n, titles, used));
  if (node === null || typeof node !== 'object') return node;
  const out = {};
  for (const [k, v] of Object.entries(node)) out[k] = externalize(v, titles, used);
  if (typeof out.$ref === 'string' && !out.$ref.startsWith('#')) {
    const file = out.$ref.split('#')[0];
    const title = titles.get(file);
    if (!title) throw new Error(`unresolvable $ref "${out.$ref}" (no schemas/${file})`);
    if (out.$ref !== file) throw new Error(`$ref "${out.$ref}": refer to whole schema files only`);
    used.add(file);
    delete out.$ref;
    out.tsType = title;
  }
  return out;
}

/** Generates every file in memory: Map of file name (e.g. "Session.ts") → content. */
export async function generateAll(dir = schemaDir) {
  const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  const schemas = new Map(files.map((f) => [f, JSON.parse(readFileSync(join(dir, f), 'utf8'))]));
  const titles = new Map();
  for (const [f, s] of schemas) {
    if (typeof s.title !== 'string') throw new Error(`schemas/${f}: needs a title (the TS type name)`);
    titles.set(f, s.title);
  }
  const out = new Map();
  for (const [f, s] of schemas) {
    const used = new Set();
    const local = externalize(s, titles, used);
    let ts = await compile(local, s.title, {
      cwd: dir,
      bannerComment: banner(f),
      additionalProperties: false,
      declareExternallyReferenced: true,
      strictIndexSignatures: false,
      unknownAny: true,
      format: true,
    });
    const imports = [...used]
      .sort()
      .map((u) => `import type { ${titles.get(u)} } from './${u.replace(/\.json$/, '.js')}';`)
      .join('\n');
    if (imports) ts = ts.replace(/(do not edit\.\n[^\n]*\n)/, `$1\n${imports}\n`);
    out.set(f.replace(/\.json$/, '.ts'), ts);
  }
  return out;
}

/** Names the files in dir that differ from (or are missing compared to) generated, and stray ones. */
export function findStale(generated, dir = generatedDir) {
  const stale = [];
  for (const [name, content] of generated) {
    const p = join(dir, name);
    if (!existsSync(p) || readFileSync(p, 'utf8') !== content) stale.push(name);
  }
  if (existsSync(dir)) {
    for (const name of readdirSync(dir)) if (name.endsWith('.ts') && !generated.has(name)) stale.push(name);
  }
  return stale.sort();
}

async function main() {
  const generated = await generateAll();
  if (process.argv.includes('--check')) {
    const stale = findStale(generated);
    if (stale.length > 0) {
      console.error(`stale generated types: ${stale.map((s) => `src/generated/${s}`).join(', ')}; run \`npm run generate -w api-schemas\``);
      process.exit(1);
    }
    return;
  }
  mkdirSync(generatedDir, { recursive: true });
  for (const name of findStale(generated)) {
    if (generated.has(name)) writeFileSync(join(generatedDir, name), generated.get(name));
    else unlinkSync(join(generatedDir, name));
    console.log(`wrote src/generated/${name}`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    console.error(`generate-types: ${e.message}`);
    process.exit(1);
  });
}
