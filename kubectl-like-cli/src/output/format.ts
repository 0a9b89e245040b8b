// JSON and YAML as kubectl prints objects: keys sorted (as Go's marshalling of unstructured
// objects does), JSON indented by four spaces, YAML with block lists not indented under their key.

import { stringify } from 'yaml';

/** A deep copy with every object's keys in sorted order. */
export function sortKeys<T>(v: T): T {
  if (Array.isArray(v)) return v.map(sortKeys) as T;
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = sortKeys((v as Record<string, unknown>)[k]);
    return out as T;
  }
  return v;
}

export function toJson(v: unknown): string {
  return `${JSON.stringify(sortKeys(v), null, 4)}\n`;
}

export function toYaml(v: unknown): string {
  return stringify(sortKeys(v), { indentSeq: false, lineWidth: 0 });
}

/** A list of objects as kubectl prints several: a v1 List. */
export function asList(items: unknown[]): Record<string, unknown> {
  return { apiVersion: 'v1', items, kind: 'List', metadata: { resourceVersion: '' } };
}
