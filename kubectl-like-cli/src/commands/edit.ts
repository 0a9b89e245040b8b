// skctl edit KIND NAME — the object as YAML in $VISUAL/$EDITOR (default vi); on save it is
// replaced (PUT with its resourceVersion, so a concurrent change is a conflict, not lost). Invalid
// input re-opens the editor with the error as comments above the user's text, as kubectl does;
// an unchanged or empty file cancels.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { ApiError, qualifiedName, resolveManifestKind, type SandkastenObject } from '@sandkasten/client';
import { makeClient, type GlobalOptions } from '../connection.js';
import { CliError, describeError } from '../errors.js';
import { toJson, toYaml } from '../output/format.js';
import { parseTargets, kindName } from '../resources.js';
import { out } from '../util.js';

export interface EditOptions {
  output?: string;
}

const HEADER = [
  "# Please edit the object below. Lines beginning with a '#' will be ignored,",
  '# and an empty file will abort the edit. If an error occurs while saving this file will be',
  '# reopened with the relevant failures.',
  '#',
];

export async function runEdit(args: string[], o: EditOptions, g: GlobalOptions): Promise<number> {
  const targets = parseTargets(args, 'edit');
  if (targets.length !== 1 || targets[0]!.names.length !== 1) throw new CliError('edit takes one object: skctl edit KIND NAME');
  const { info, names } = targets[0]!;
  const name = names[0]!;
  const format = o.output === 'json' ? 'json' : 'yaml';
  if (o.output !== undefined && o.output !== 'json' && o.output !== 'yaml') throw new CliError('edit supports -o yaml (default) or json');
  const { client, conn } = await makeClient(g);
  const dir = mkdtempSync(join(tmpdir(), 'skctl-edit-'));
  try {
    const original = (await client.get(kindName(info), name, { namespace: conn.namespace })) as SandkastenObject;
    const file = join(dir, `${info.plural}-${name}.${format}`);
    const serialize = (x: unknown) => (format === 'json' ? toJson(x) : toYaml(x));
    let body = serialize(original);
    let errorLines: string[] = [];
    let lastSaved: string | undefined;
    for (;;) {
      writeFileSync(file, [...HEADER, ...errorLines, body].join('\n'));
      runEditor(file);
      const edited = readFileSync(file, 'utf8');
      const text = edited
        .split('\n')
        .filter((l) => !l.trimStart().startsWith('#'))
        .join('\n');
      if (text.trim() === '') {
        process.stderr.write('Edit cancelled, saved file was empty.\n');
        return 0;
      }
      if (lastSaved !== undefined && text === lastSaved) {
        // Saved again without fixing the reported problem: give up, as kubectl does.
        process.stderr.write('error: Edit cancelled, no valid changes were saved.\n');
        return 1;
      }
      lastSaved = text;
      let parsed: unknown;
      try {
        parsed = await parse(text, format);
      } catch (e) {
        errorLines = errorComment([`The edited file had a syntax error: ${(e as Error).message}`]);
        body = text;
        continue;
      }
      if (isDeepStrictEqual(parsed, original)) {
        process.stderr.write('Edit cancelled, no changes made.\n');
        return 0;
      }
      try {
        const obj = parsed as SandkastenObject;
        const edInfo = resolveManifestKind(obj);
        if (edInfo !== info || obj.metadata?.name !== name) {
          throw new CliError(`the edited object must stay ${info.kind} "${name}" (kind and metadata.name cannot be changed)`);
        }
        const saved = (await client.replace(obj, { namespace: conn.namespace })) as SandkastenObject;
        out(`${qualifiedName(info)}/${name} ${saved.metadata.resourceVersion === original.metadata.resourceVersion ? 'skipped' : 'edited'}\n`);
        return 0;
      } catch (e) {
        if (!(e instanceof ApiError) && !(e instanceof CliError) && (e as Error).name !== 'UnknownKindError') throw e;
        errorLines = errorComment(describeError(e).split('\n'));
        body = text;
      }
    }
  } finally {
    client.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The error as comment lines (messages may span lines, e.g. YAML's with a pointer). */
function errorComment(lines: string[]): string[] {
  const all = lines.flatMap((l) => l.split('\n')).filter((l, i, a) => l.trim() !== '' || (i > 0 && i < a.length - 1));
  return [...all.map((l) => `# ${l}`.trimEnd()), '#'];
}

async function parse(text: string, format: 'yaml' | 'json'): Promise<unknown> {
  if (format === 'json') return JSON.parse(text) as unknown;
  const { parseDocument } = await import('yaml');
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new Error(doc.errors[0]!.message);
  return doc.toJS() as unknown;
}

/** $VISUAL, then $EDITOR, then vi — through the shell, so "code --wait" works. */
function runEditor(file: string): void {
  const editor = process.env.VISUAL || process.env.EDITOR || 'vi';
  const r = spawnSync('/bin/sh', ['-c', `${editor} "$1"`, 'sh', file], { stdio: 'inherit' });
  if (r.error) throw new CliError(`cannot run the editor ${JSON.stringify(editor)}: ${r.error.message}`);
  if (r.status !== 0) throw new CliError(`the editor ${JSON.stringify(editor)} exited with ${r.status ?? r.signal}; no changes were made`);
}
