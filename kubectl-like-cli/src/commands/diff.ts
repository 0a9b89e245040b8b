// skctl diff -f FILE — what apply would change: each manifest applied with dryRun=All (the server
// merges, defaults and validates it) against the live object, as a unified diff of their YAML.
// Exit 0: no differences; 1: differences; 2 (>1): an error. The apply bookkeeping annotation
// (sandkasten.dev/last-applied) is left out of both sides: it restates the manifest.

import { createTwoFilesPatch } from 'diff';
import { ApiError, NotFoundError, resolveManifestKind, type SandkastenObject } from '@sandkasten/client';
import { makeClient, type GlobalOptions } from '../connection.js';
import { CliError, describeError } from '../errors.js';
import { readManifests } from '../manifests.js';
import { toYaml } from '../output/format.js';
import { out } from '../util.js';
import { kindName } from '../resources.js';
import { DEFAULT_FIELD_MANAGER, LAST_APPLIED, forScope, targetNamespace } from './apply.js';

export interface DiffOptions {
  filename: string[];
  recursive?: boolean;
  fieldManager?: string;
}

/** Exit codes as kubectl diff's (and diff(1)'s). */
export const DIFF_NONE = 0;
export const DIFF_FOUND = 1;
export const DIFF_ERROR = 2;

export async function runDiff(o: DiffOptions, g: GlobalOptions): Promise<number> {
  let manifests;
  try {
    manifests = await readManifests(o.filename, Boolean(o.recursive));
  } catch (e) {
    throw new CliError((e as Error).message, DIFF_ERROR);
  }
  const { client, conn } = await makeClient(g);
  let found = false;
  let failed = false;
  try {
    for (const m of manifests) {
      try {
        const info = resolveManifestKind(m.object);
        const namespace = targetNamespace(info, m, conn);
        const name = m.object.metadata.name!;
        const live = (await client.get(kindName(info), name, { namespace }).catch((e: unknown) => {
          if (e instanceof NotFoundError) return undefined;
          throw e;
        })) as SandkastenObject | undefined;
        const merged = (await client.apply(forScope(info, m.object), { namespace, dryRun: true, force: true, fieldManager: o.fieldManager || DEFAULT_FIELD_MANAGER })) as SandkastenObject;
        const file = [info.group, info.version, info.kind, namespace, name].filter(Boolean).join('.');
        const before = live ? toYaml(clean(live)) : '';
        const after = toYaml(clean(merged));
        if (before === after) continue;
        found = true;
        out(createTwoFilesPatch(`LIVE/${file}`, `MERGED/${file}`, before, after, undefined, undefined, { context: 3 }).replace(/^=+\n/m, ''));
      } catch (e) {
        failed = true;
        process.stderr.write(`${describeError(e)}${e instanceof ApiError ? '' : ` (from ${m.source})`}\n`);
      }
    }
  } finally {
    client.close();
  }
  if (failed) return DIFF_ERROR;
  return found ? DIFF_FOUND : DIFF_NONE;
}

/** The object without apply's bookkeeping annotation. */
function clean(obj: SandkastenObject): SandkastenObject {
  const c = structuredClone(obj);
  const ann = c.metadata.annotations;
  if (ann && LAST_APPLIED in ann) {
    delete ann[LAST_APPLIED];
    if (Object.keys(ann).length === 0) delete c.metadata.annotations;
  }
  return c;
}
