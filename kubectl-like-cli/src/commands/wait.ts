// skctl wait KIND NAME… --for=condition=Ready | --for=delete | --for=jsonpath='{.status.phase}'=Ready
// [--timeout=30s] — watch-based (no polling) through the client's waitFor/waitForDeletion.

import { NotFoundError, TimeoutError, qualifiedName, type SandkastenObject } from '@sandkasten/client';
import { makeClient, type GlobalOptions } from '../connection.js';
import { CliError, describeError } from '../errors.js';
import { JsonPath, formatValue } from '../output/jsonpath.js';
import { parseTargets, kindName } from '../resources.js';
import { out, parseDuration } from '../util.js';

export interface WaitOptions {
  for?: string;
  timeout?: string;
  selector?: string;
  allNamespaces?: boolean;
}

type Goal =
  | { kind: 'delete' }
  | { kind: 'condition'; condition: string; text: string }
  | { kind: 'jsonpath'; path: JsonPath; value?: string; text: string };

export function parseFor(spec: string | undefined): Goal {
  if (!spec) throw new CliError('--for is required: --for=condition=Ready, --for=delete or --for=jsonpath=\'{.status.phase}\'=Ready');
  if (spec === 'delete') return { kind: 'delete' };
  if (spec.startsWith('condition=')) {
    const c = spec.slice('condition='.length);
    if (c === '' || c.startsWith('=')) throw new CliError(`invalid --for ${JSON.stringify(spec)}: a condition type is required, e.g. condition=Ready`);
    return { kind: 'condition', condition: c, text: `condition ${c}` };
  }
  if (spec.startsWith('jsonpath=')) {
    const rest = spec.slice('jsonpath='.length);
    // The template ends at its last "}"; "=VALUE" may follow (without it, the path must exist).
    const close = rest.lastIndexOf('}');
    let template = rest;
    let value: string | undefined;
    if (close >= 0 && rest.startsWith('{')) {
      template = rest.slice(0, close + 1);
      const tail = rest.slice(close + 1);
      if (tail !== '') {
        if (!tail.startsWith('=')) throw new CliError(`invalid --for ${JSON.stringify(spec)}: expected jsonpath='{.path}'=value`);
        value = tail.slice(1);
      }
    } else {
      const eq = rest.lastIndexOf('=');
      if (eq > 0) {
        template = rest.slice(0, eq);
        value = rest.slice(eq + 1);
      }
      if (!template.startsWith('{')) template = `{${template.startsWith('.') ? '' : '.'}${template}}`;
    }
    let path: JsonPath;
    try {
      path = JsonPath.parse(template);
    } catch (e) {
      throw new CliError(`invalid --for ${JSON.stringify(spec)}: ${(e as Error).message}`);
    }
    return { kind: 'jsonpath', path, value, text: value === undefined ? `${template} to exist` : `${template}=${value}` };
  }
  throw new CliError(`invalid --for ${JSON.stringify(spec)}: must be delete, condition=TYPE[=STATUS] or jsonpath='{…}'=VALUE`);
}

export async function runWait(args: string[], o: WaitOptions, g: GlobalOptions): Promise<number> {
  const goal = parseFor(o.for);
  const timeoutMs = parseDuration(o.timeout ?? '30s', '--timeout');
  const targets = parseTargets(args, 'wait for');
  const { client, conn } = await makeClient(g);
  let failed = false;
  try {
    const objs: { kind: string; info: (typeof targets)[number]['info']; namespace?: string; name: string }[] = [];
    for (const t of targets) {
      if (t.names.length > 0) {
        for (const name of t.names) objs.push({ kind: kindName(t.info), info: t.info, namespace: t.info.namespaced ? conn.namespace : undefined, name });
      } else {
        if (!o.selector) throw new CliError('resource(s) were provided, but no name or selector (-l) was specified');
        const l = await client.list(kindName(t.info), { namespace: conn.namespace, allNamespaces: Boolean(o.allNamespaces), labelSelector: o.selector });
        for (const x of l.items as SandkastenObject[]) objs.push({ kind: kindName(t.info), info: t.info, namespace: x.metadata.namespace, name: x.metadata.name! });
      }
    }
    if (objs.length === 0) throw new CliError('no matching resources found');
    // All at once, under one deadline, as kubectl waits.
    const deadline = Date.now() + timeoutMs;
    await Promise.all(
      objs.map(async (x) => {
        const left = Math.max(1, deadline - Date.now());
        const id = `${qualifiedName(x.info)}/${x.name}`;
        try {
          if (goal.kind === 'delete') {
            await client.waitForDeletion(x.kind, x.name, { namespace: x.namespace, timeoutMs: left });
            out(`${id} deleted\n`);
            return;
          }
          const condition = goal.kind === 'condition' ? goal.condition : (obj: unknown) => jsonpathHolds(goal.path, goal.value, obj);
          await client.waitFor(x.kind, x.name, { namespace: x.namespace, condition, timeoutMs: left });
          out(`${id} condition met\n`);
        } catch (e) {
          failed = true;
          if (e instanceof TimeoutError) process.stderr.write(`error: timed out waiting for the ${goal.kind === 'delete' ? 'deletion' : goal.text} on ${id}\n`);
          else if (e instanceof NotFoundError) process.stderr.write(`${describeError(e)}\n`);
          else throw e;
        }
      }),
    );
    return failed ? 1 : 0;
  } finally {
    client.close();
  }
}

function jsonpathHolds(path: JsonPath, value: string | undefined, obj: unknown): boolean {
  const vals = path.values(obj).filter((v) => v !== undefined);
  if (value === undefined) return vals.length > 0;
  return vals.length > 0 && vals.every((v) => formatValue(v) === value);
}
