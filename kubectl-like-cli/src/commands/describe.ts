// skctl describe KIND [NAME…] [-l SEL] — metadata, spec and status as nested "Title Case:"
// fields (kubectl's generic describer), the conditions as a table, and the object's Events
// (found by involvedObject.uid, oldest first).

import type { Condition, Event, ResourceInfo } from '@sandkasten/api-schemas';
import type { SandboxClient, SandkastenObject } from '@sandkasten/client';
import { makeClient, type GlobalOptions } from '../connection.js';
import { CliError, describeError } from '../errors.js';
import { age } from '../output/age.js';
import { parseTargets, kindName } from '../resources.js';
import { out } from '../util.js';
import { LAST_APPLIED } from './apply.js';

export interface DescribeOptions {
  selector?: string;
  allNamespaces?: boolean;
  showEvents?: boolean;
}

export async function runDescribe(args: string[], o: DescribeOptions, g: GlobalOptions): Promise<number> {
  const targets = parseTargets(args, 'describe');
  const { client, conn } = await makeClient(g);
  let failed = false;
  try {
    const blocks: string[] = [];
    for (const t of targets) {
      const objs: SandkastenObject[] = [];
      if (t.names.length > 0) {
        if (o.selector) throw new CliError('selector (-l) and names cannot be combined');
        for (const name of t.names) {
          try {
            objs.push((await client.get(kindName(t.info), name, { namespace: conn.namespace })) as SandkastenObject);
          } catch (e) {
            failed = true;
            process.stderr.write(`${describeError(e)}\n`);
          }
        }
      } else {
        const l = await client.list(kindName(t.info), { namespace: conn.namespace, allNamespaces: Boolean(o.allNamespaces), labelSelector: o.selector });
        objs.push(...(l.items as SandkastenObject[]));
      }
      for (const obj of objs) blocks.push(await describeObject(client, t.info, obj, o.showEvents !== false));
    }
    if (blocks.length === 0 && !failed) process.stderr.write('No resources found\n');
    out(blocks.join('\n\n'));
    if (blocks.length > 0) out('\n');
    return failed ? 1 : 0;
  } finally {
    client.close();
  }
}

export async function describeObject(client: SandboxClient, info: ResourceInfo, obj: SandkastenObject, withEvents: boolean): Promise<string> {
  const lines: string[] = [];
  const m = obj.metadata;
  const top: [string, string][] = [['Name:', m.name ?? '']];
  if (info.namespaced) top.push(['Namespace:', m.namespace ?? '']);
  const labels = multiline(Object.entries(m.labels ?? {}).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`));
  const annotations = multiline(
    Object.entries(m.annotations ?? {})
      .filter(([k]) => k !== LAST_APPLIED)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k}: ${v}`),
  );
  top.push(['Labels:', labels], ['Annotations:', annotations], ['API Version:', obj.apiVersion], ['Kind:', obj.kind]);
  const w = Math.max(...top.map(([k]) => k.length)) + 2;
  for (const [k, v] of top) lines.push(`${k.padEnd(w)}${v.replace(/\n/g, `\n${' '.repeat(w)}`)}`);

  const meta: Record<string, unknown> = {};
  for (const k of ['creationTimestamp', 'deletionTimestamp', 'finalizers', 'generateName', 'generation', 'ownerReferences', 'resourceVersion', 'uid'] as const) {
    if (m[k] !== undefined) meta[k] = m[k];
  }
  lines.push('Metadata:', ...nested(meta, 1));
  const rest = Object.entries(obj).filter(([k]) => !['apiVersion', 'kind', 'metadata'].includes(k));
  let conditions: Condition[] | undefined;
  for (const [k, v] of rest) {
    if (k === 'status' && v && typeof v === 'object' && !Array.isArray(v)) {
      const { conditions: c, ...status } = v as { conditions?: Condition[] };
      conditions = c;
      lines.push('Status:', ...nested(status, 1));
      continue;
    }
    if (v !== null && typeof v === 'object') lines.push(`${title(k)}:`, ...nested(v, 1));
    else lines.push(`${title(k)}:  ${scalar(v)}`);
  }
  if (conditions && conditions.length > 0) {
    lines.push('Conditions:');
    lines.push(
      ...table(
        ['Type', 'Status', 'Reason', 'Age', 'Message'],
        conditions.map((c) => [c.type ?? '', String(c.status ?? ''), c.reason ?? '', c.lastTransitionTime ? age(c.lastTransitionTime) : '', c.message ?? '']),
      ),
    );
  }
  if (withEvents) lines.push(...(await eventsOf(client, info, obj)));
  return lines.join('\n');
}

async function eventsOf(client: SandboxClient, info: ResourceInfo, obj: SandkastenObject): Promise<string[]> {
  if (!obj.metadata.uid) return [];
  let events: Event[];
  try {
    // Events about cluster-scoped objects (Images) live in "default", as in Kubernetes.
    const l = await client.list('events', {
      namespace: info.namespaced ? obj.metadata.namespace : 'default',
      fieldSelector: `involvedObject.uid=${obj.metadata.uid}`,
    });
    events = l.items;
  } catch (e) {
    return [`Events:  <cannot list: ${(e as Error).message}>`];
  }
  if (events.length === 0) return ['Events:  <none>'];
  const when = (e: Event) => Date.parse(e.lastTimestamp || e.firstTimestamp || e.metadata.creationTimestamp || '') || 0;
  events.sort((a, b) => when(a) - when(b));
  const rows = events.map((e) => {
    const last = e.lastTimestamp || e.firstTimestamp || e.metadata.creationTimestamp || '';
    const seen = e.count > 1 && e.firstTimestamp ? `${age(last)} (x${e.count} over ${age(e.firstTimestamp)})` : age(last);
    return [e.type, e.reason, seen, e.source?.component ?? e.reportingComponent ?? '', e.message.replace(/\s*\n\s*/g, ' ')];
  });
  return ['Events:', ...table(['Type', 'Reason', 'Age', 'From', 'Message'], rows)];
}

/** A small table indented by two spaces, with a dashed rule under the header, as kubectl's. */
function table(headers: string[], rows: string[][]): string[] {
  const all = [headers, headers.map((h) => '-'.repeat(h.length)), ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => `  ${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 2))).join('')}`.trimEnd());
}

function multiline(items: string[]): string {
  return items.length === 0 ? '<none>' : items.join('\n');
}

const ACRONYMS: Record<string, string> = { Uid: 'UID', Id: 'ID', Cpu: 'CPU', Api: 'API', Ttl: 'TTL', Oom: 'OOM', Pid: 'PID', Pids: 'PIDs', Url: 'URL' };

/** "ttlSeconds" → "TTL Seconds", as kubectl's generic describer turns field names into words. */
export function title(key: string): string {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .split(/[\s_-]+/)
    .map((w) => {
      const t = w.charAt(0).toUpperCase() + w.slice(1);
      return ACRONYMS[t] ?? t;
    })
    .join(' ');
}

function scalar(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** A value's lines at an indentation level (two spaces each). */
function nested(v: unknown, level: number): string[] {
  const pad = '  '.repeat(level);
  if (Array.isArray(v)) {
    const lines: string[] = [];
    for (const item of v) {
      if (item !== null && typeof item === 'object' && !Array.isArray(item)) {
        const inner = nested(item, level + 1);
        // The first line of each item carries a "- " marker in place of two spaces.
        if (inner.length > 0) inner[0] = `${pad}- ${inner[0]!.trimStart()}`;
        lines.push(...inner);
      } else lines.push(`${pad}${scalar(item)}`);
    }
    return lines;
  }
  if (v === null || typeof v !== 'object') return [`${pad}${scalar(v)}`];
  const entries = Object.entries(v as Record<string, unknown>);
  const scalars = entries.filter(([, x]) => x === null || typeof x !== 'object');
  const w = scalars.length ? Math.max(...scalars.map(([k]) => title(k).length)) + 3 : 0;
  const lines: string[] = [];
  for (const [k, x] of entries) {
    if (x !== null && typeof x === 'object') {
      const empty = Array.isArray(x) ? x.length === 0 : Object.keys(x).length === 0;
      lines.push(empty ? `${pad}${title(k)}:  <none>` : `${pad}${title(k)}:`);
      if (!empty) lines.push(...nested(x, level + 1));
    } else {
      lines.push(`${pad}${`${title(k)}:`.padEnd(w)}${scalar(x)}`);
    }
  }
  return lines;
}
