// The checked-in src/generated/*.ts must be what scripts/generate-types.mjs makes of schemas/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface Generator {
  generateAll(dir?: string): Promise<Map<string, string>>;
  findStale(generated: Map<string, string>, dir?: string): string[];
  schemaDir: string;
  generatedDir: string;
}

const pkgRoot = join(fileURLToPath(import.meta.url), '..', '..');
const gen = (await import(pathToFileURL(join(pkgRoot, 'scripts', 'generate-types.mjs')).href)) as Generator;

test('checked-in generated types match the schemas', async () => {
  const stale = gen.findStale(await gen.generateAll());
  assert.deepEqual(
    stale,
    [],
    `stale generated types: ${stale.map((s) => `src/generated/${s}`).join(', ')} — run \`npm run generate -w api-schemas\` and commit the result`,
  );
});

test('a changed schema makes its generated file stale', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'sk-schemas-'));
  try {
    const schemas = join(tmp, 'schemas');
    cpSync(gen.schemaDir, schemas, { recursive: true });
    const p = join(schemas, 'Workspace.json');
    const s = JSON.parse(readFileSync(p, 'utf8')) as { definitions: { WorkspaceSpec: { properties: Record<string, unknown> } } };
    s.definitions.WorkspaceSpec.properties.quota = { type: 'integer' };
    writeFileSync(p, JSON.stringify(s));
    const stale = gen.findStale(await gen.generateAll(schemas));
    assert.deepEqual(stale, ['Workspace.ts']);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('an edited or stray generated file is stale', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'sk-generated-'));
  try {
    cpSync(gen.generatedDir, tmp, { recursive: true });
    const generated = await gen.generateAll();
    assert.deepEqual(gen.findStale(generated, tmp), []);
    writeFileSync(join(tmp, 'Session.ts'), readFileSync(join(tmp, 'Session.ts'), 'utf8').replace('ttlSeconds?: number', 'ttlSeconds?: string'));
    writeFileSync(join(tmp, 'Old.ts'), 'export {};\n');
    assert.deepEqual(gen.findStale(generated, tmp), ['Old.ts', 'Session.ts']);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
