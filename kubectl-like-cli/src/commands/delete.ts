// skctl delete KIND NAME… | KIND -l SEL | KIND --all | -f FILE — prints
// `session.sandkasten.dev "x" deleted`, then (--wait, the default) waits until finalizers let
// the objects go.

import type { ResourceInfo } from '@sandkasten/api-schemas';
import { NotFoundError, TimeoutError, qualifiedName, resolveManifestKind, type SandkastenObject } from '@sandkasten/client';
import { makeClient, type GlobalOptions } from '../connection.js';
import { CliError, describeError } from '../errors.js';
import { readManifests } from '../manifests.js';
import { parseTargets, kindName } from '../resources.js';
import { dryRunFlag, out, parseDuration } from '../util.js';
import { targetNamespace } from './apply.js';

export interface DeleteOptions {
  filename: string[];
  recursive?: boolean;
  selector?: string;
  all?: boolean;
  allNamespaces?: boolean;
  wait?: boolean;
  timeout?: string;
  ignoreNotFound?: boolean;
  dryRun?: string | boolean;
  output?: string;
}

interface Victim {
  info: ResourceInfo;
  namespace?: string;
  name: string;
}

export async function runDelete(args: string[], o: DeleteOptions, g: GlobalOptions): Promise<number> {
  const dryRun = dryRunFlag(o.dryRun);
  const byFile = o.filename.length > 0;
  if (byFile && args.length > 0) throw new CliError('resources cannot be named both on the command line and with -f');
  if (o.output !== undefined && o.output !== 'name') throw new CliError('delete supports only -o name');
  const timeoutMs = o.timeout ? parseDuration(o.timeout, '--timeout') : 0;
  const { client, conn } = await makeClient(g);
  let failed = false;
  try {
    const victims: Victim[] = [];
    if (byFile) {
      for (const m of await readManifests(o.filename, Boolean(o.recursive))) {
        const info = resolveManifestKind(m.object);
        victims.push({ info, namespace: targetNamespace(info, m, conn), name: m.object.metadata.name! });
      }
    } else {
      const targets = parseTargets(args, 'delete');
      for (const t of targets) {
        if (t.names.length > 0) {
          if (o.selector || o.all) throw new CliError('names cannot be combined with -l or --all');
          for (const name of t.names) victims.push({ info: t.info, namespace: t.info.namespaced ? conn.namespace : undefined, name });
          continue;
        }
        if (!o.selector && !o.all) {
          throw new CliError(`resource(s) were provided, but no name was specified (use a name, -l SELECTOR or --all to delete every ${t.info.singular})`);
        }
        const list = await client.list(kindName(t.info), {
          namespace: conn.namespace,
          allNamespaces: Boolean(o.allNamespaces),
          labelSelector: o.selector,
        });
        for (const x of list.items as SandkastenObject[]) victims.push({ info: t.info, namespace: x.metadata.namespace, name: x.metadata.name! });
        if (list.items.length === 0) process.stderr.write('No resources found\n');
      }
    }

    const pending: { v: Victim; uid?: string }[] = [];
    for (const v of victims) {
      try {
        const obj = (await client.delete(kindName(v.info), v.name, { namespace: v.namespace, dryRun })) as SandkastenObject;
        if (o.output === 'name') out(`${qualifiedName(v.info)}/${v.name}\n`);
        else out(`${qualifiedName(v.info)} "${v.name}" deleted${dryRun ? ' (server dry run)' : ''}\n`);
        if (!dryRun && obj.metadata?.deletionTimestamp) pending.push({ v, uid: obj.metadata.uid });
      } catch (e) {
        if (e instanceof NotFoundError && o.ignoreNotFound) continue;
        failed = true;
        process.stderr.write(`${describeError(e)}\n`);
      }
    }
    if (o.wait !== false) {
      for (const { v, uid } of pending) {
        try {
          await client.waitForDeletion(kindName(v.info), v.name, { namespace: v.namespace, uid, timeoutMs });
        } catch (e) {
          failed = true;
          if (e instanceof TimeoutError) process.stderr.write(`error: timed out waiting for ${qualifiedName(v.info)}/${v.name} to be deleted (finalizers: still held)\n`);
          else process.stderr.write(`${describeError(e)}\n`);
        }
      }
    }
    return failed ? 1 : 0;
  } finally {
    client.close();
  }
}
