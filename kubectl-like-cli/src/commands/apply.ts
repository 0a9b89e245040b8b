// skctl apply -f FILE|DIR|- [-R] [-l SEL] [--prune] [--dry-run=server] [--field-manager NAME]
// Server-side apply of every manifest, in file order; prints created / configured / unchanged
// (unchanged: the resourceVersion did not move). --prune then deletes what this field manager
// applied before, matches the selector, lives in the applied kinds and namespaces, and is not
// in the applied set.

import type { ResourceInfo } from '@sandkasten/api-schemas';
import { ApiError, NotFoundError, qualifiedName, resolveManifestKind, type ObjectLike, type SandboxClient, type SandkastenObject } from '@sandkasten/client';
import { isDeepStrictEqual } from 'node:util';
import { makeClient, type Connection, type GlobalOptions } from '../connection.js';
import { CliError, describeError } from '../errors.js';
import { readManifests, type Manifest } from '../manifests.js';
import { toJson, toYaml } from '../output/format.js';
import { parseOutput } from '../output/printers.js';
import { dryRunFlag, out } from '../util.js';
import { kindName } from '../resources.js';

export const DEFAULT_FIELD_MANAGER = 'skctl';
/** The annotation the server keeps each field manager's last applied manifest in. */
export const LAST_APPLIED = 'sandkasten.dev/last-applied';

export interface ApplyOptions {
  filename: string[];
  recursive?: boolean;
  selector?: string;
  prune?: boolean;
  dryRun?: string | boolean;
  fieldManager?: string;
  output?: string;
}

export async function runApply(o: ApplyOptions, g: GlobalOptions): Promise<number> {
  const dryRun = dryRunFlag(o.dryRun);
  if (o.prune && !o.selector) throw new CliError('--prune requires a label selector (-l): only objects matching it are pruned');
  const fmt = o.output ? parseOutput(o.output) : undefined;
  if (fmt && fmt.kind !== 'json' && fmt.kind !== 'yaml' && fmt.kind !== 'name') throw new CliError('apply supports -o json, yaml or name');
  const manifests = await readManifests(o.filename, Boolean(o.recursive));
  const { client, conn } = await makeClient(g);
  const manager = o.fieldManager || DEFAULT_FIELD_MANAGER;
  const suffix = dryRun ? ' (server dry run)' : '';
  let failed = false;
  const applied = new Set<string>();
  const scopes = new Map<string, { info: ResourceInfo; namespace?: string }>();
  try {
    const selected = o.selector ? await filterBySelector(manifests, o.selector) : manifests;
    for (const m of selected) {
      try {
        const info = resolveManifestKind(m.object);
        const namespace = targetNamespace(info, m, conn);
        const name = m.object.metadata.name!;
        applied.add(key(info, namespace, name));
        scopes.set(`${info.kind}/${namespace ?? ''}`, { info, namespace });
        const live = await client.get(kindName(info), name, { namespace }).catch((e: unknown) => {
          if (e instanceof NotFoundError) return undefined;
          throw e;
        });
        const result = (await client.apply(forScope(info, m.object), { namespace, fieldManager: manager, dryRun, force: true })) as SandkastenObject;
        let outcome: string;
        if (!live) outcome = 'created';
        else if (dryRun) outcome = isDeepStrictEqual(live, result) ? 'unchanged' : 'configured';
        else outcome = live.metadata.resourceVersion === result.metadata.resourceVersion ? 'unchanged' : 'configured';
        if (fmt?.kind === 'json') out(toJson(result));
        else if (fmt?.kind === 'yaml') out(`${selected.length > 1 ? '---\n' : ''}${toYaml(result)}`);
        else if (fmt?.kind === 'name') out(`${qualifiedName(info)}/${name}\n`);
        else out(`${qualifiedName(info)}/${name} ${outcome}${suffix}\n`);
      } catch (e) {
        failed = true;
        // Server errors name the object; a local one (an unknown kind) needs the file.
        process.stderr.write(`${describeError(e)}${e instanceof ApiError ? '' : ` (from ${m.source})`}\n`);
      }
    }
    // A prune after a failed apply could delete what the failed manifest should have kept.
    if (o.prune && !failed) failed = !(await prune(client, [...scopes.values()], applied, o.selector!, manager, dryRun, suffix));
    return failed ? 1 : 0;
  } finally {
    client.close();
  }
}

function key(info: ResourceInfo, namespace: string | undefined, name: string): string {
  return `${info.kind}/${namespace ?? ''}/${name}`;
}

/**
 * The namespace a manifest goes to: its own, else -n / the context's. A manifest naming another
 * namespace than -n is refused, as kubectl does.
 */
export function targetNamespace(info: ResourceInfo, m: Manifest, conn: Connection): string | undefined {
  if (!info.namespaced) return undefined;
  const own = m.object.metadata.namespace;
  if (own && conn.namespaceFromFlag && own !== conn.namespace) {
    throw new CliError(
      `the namespace from the provided object "${own}" does not match the namespace "${conn.namespace}". You must pass '--namespace=${own}' to perform this operation.`,
    );
  }
  return own || conn.namespace;
}

/** The manifest as sent: a namespace on a cluster-scoped kind is dropped, as kubectl does. */
export function forScope<T extends ObjectLike>(info: ResourceInfo, obj: T): T {
  if (info.namespaced || obj.metadata.namespace === undefined) return obj;
  const { namespace: _, ...metadata } = obj.metadata;
  return { ...obj, metadata };
}

/** Only the manifests whose labels match the selector (kubectl apply -l). */
async function filterBySelector(manifests: Manifest[], selector: string): Promise<Manifest[]> {
  const { matchLabels } = await import('../selector.js');
  return manifests.filter((m) => matchLabels(selector, m.object.metadata.labels ?? {}));
}

async function prune(
  client: SandboxClient,
  scopes: { info: ResourceInfo; namespace?: string }[],
  applied: Set<string>,
  selector: string,
  manager: string,
  dryRun: boolean,
  suffix: string,
): Promise<boolean> {
  let ok = true;
  for (const { info, namespace } of scopes) {
    const list = await client.list(kindName(info), { namespace, labelSelector: selector });
    for (const obj of list.items as SandkastenObject[]) {
      const ns = info.namespaced ? obj.metadata.namespace : undefined;
      if (applied.has(key(info, ns, obj.metadata.name!))) continue;
      if (!appliedBy(obj, manager)) continue;
      if (obj.metadata.deletionTimestamp) continue;
      try {
        await client.delete(kindName(info), obj.metadata.name!, { namespace: ns, dryRun, preconditions: { uid: obj.metadata.uid } });
        out(`${qualifiedName(info)}/${obj.metadata.name} pruned${suffix}\n`);
      } catch (e) {
        if (e instanceof NotFoundError) continue;
        ok = false;
        process.stderr.write(`${describeError(e)}\n`);
      }
    }
  }
  return ok;
}

/** Was the object applied by this field manager (rather than created some other way)? */
function appliedBy(obj: SandkastenObject, manager: string): boolean {
  const raw = obj.metadata.annotations?.[LAST_APPLIED];
  if (!raw) return false;
  try {
    const parsed = JSON.parse(raw) as Record<string, unknown>;
    return typeof parsed === 'object' && parsed !== null && Object.hasOwn(parsed, manager);
  } catch {
    return false;
  }
}
