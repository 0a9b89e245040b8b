// meta.k8s.io/v1 Table rendering (what `kubectl get` asks for with
// `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`), built from a resource's printer columns
// like the apiserver's table convertor for custom resources.

import { humanDuration } from '@sandkasten/api-schemas';
import type { StoredObject } from '../store/types.js';
import type { PrinterColumn, ResourceDef } from './resources.js';

export interface TableColumnDefinition {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

export interface TableRow {
  cells: unknown[];
  object?: unknown;
}

export interface Table {
  kind: 'Table';
  apiVersion: 'meta.k8s.io/v1';
  metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  columnDefinitions: TableColumnDefinition[];
  rows: TableRow[];
}

export type IncludeObject = 'None' | 'Metadata' | 'Object';

/** Does the Accept header ask for a Table? (kubectl sends it first, with a JSON fallback.) */
export function wantsTable(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(',').some((part) => {
    const params = part.split(';').map((p) => p.trim());
    return params.includes('as=Table') && params.includes('g=meta.k8s.io') && (params.includes('v=v1') || params.includes('v=v1beta1'));
  });
}

const nameColumn: TableColumnDefinition = {
  name: 'Name',
  type: 'string',
  format: 'name',
  description: 'Name must be unique within a namespace. Cannot be updated.',
  priority: 0,
};

export function columnDefinitions(def: ResourceDef): TableColumnDefinition[] {
  return [
    nameColumn,
    ...def.printerColumns.map((c) => ({
      name: c.name,
      type: c.type,
      format: c.format ?? '',
      description: c.description ?? '',
      priority: c.priority ?? 0,
    })),
  ];
}

export function rowOf(def: ResourceDef, obj: StoredObject, include: IncludeObject, now = Date.now()): TableRow {
  const cells: unknown[] = [obj.metadata.name, ...def.printerColumns.map((c) => cell(c, obj, now))];
  const row: TableRow = { cells };
  if (include === 'Object') row.object = obj;
  else if (include === 'Metadata') {
    row.object = { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata };
  }
  return row;
}

export function toTable(
  def: ResourceDef,
  items: readonly StoredObject[],
  meta: Table['metadata'],
  include: IncludeObject,
  withColumns = true,
): Table {
  const now = Date.now();
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: meta,
    columnDefinitions: withColumns ? columnDefinitions(def) : [],
    rows: items.map((o) => rowOf(def, o, include, now)),
  };
}

function cell(col: PrinterColumn, obj: StoredObject, now: number): unknown {
  const values = evalJsonPath(obj, col.jsonPath);
  if (values.length === 0) return null;
  const v = values.length === 1 ? values[0] : values;
  if (col.type === 'date' && typeof v === 'string') {
    const t = Date.parse(v);
    return Number.isNaN(t) ? v : humanDuration(now - t);
  }
  if (col.type === 'integer' || col.type === 'number' || col.type === 'boolean') {
    return typeof v === 'object' ? JSON.stringify(v) : v;
  }
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(',');
  return JSON.stringify(v);
}

/**
 * The subset of kubectl's JSONPath that printer columns use: `.a.b`, `.a[0]`, `.a[*].b`,
 * `.a[?(@.type=="Ready")].status`, with or without surrounding `{}`.
 */
export function evalJsonPath(obj: unknown, path: string): unknown[] {
  let p = path.trim();
  if (p.startsWith('{') && p.endsWith('}')) p = p.slice(1, -1);
  if (p.startsWith('$')) p = p.slice(1);
  let cur: unknown[] = [obj];
  const re = /\.([A-Za-z0-9_-]+)|\[(\d+)\]|\[\*\]|\[\?\(@\.([A-Za-z0-9_-]+)\s*==\s*["']([^"']*)["']\)\]|\['([^']*)'\]/y;
  let i = 0;
  while (i < p.length) {
    re.lastIndex = i;
    const m = re.exec(p);
    if (!m) return [];
    i = re.lastIndex;
    const next: unknown[] = [];
    for (const v of cur) {
      if (v === null || typeof v !== 'object') continue;
      const o = v as Record<string, unknown>;
      if (m[1] !== undefined || m[5] !== undefined) {
        const k = m[1] ?? m[5]!;
        if (!Array.isArray(v) && Object.prototype.hasOwnProperty.call(o, k)) next.push(o[k]);
      } else if (m[2] !== undefined) {
        if (Array.isArray(v) && Number(m[2]) < v.length) next.push(v[Number(m[2])]);
      } else if (m[3] !== undefined) {
        if (Array.isArray(v)) {
          for (const e of v) {
            if (e && typeof e === 'object' && String((e as Record<string, unknown>)[m[3]]) === m[4]) next.push(e);
          }
        }
      } else if (Array.isArray(v)) next.push(...(v as unknown[]));
    }
    cur = next.filter((x) => x !== undefined);
  }
  return cur;
}

export { humanDuration };
