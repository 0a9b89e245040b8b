// Label and field selectors with the grammar of Kubernetes' labels.Parse / fields.ParseSelector:
//   labels:  a=b  a==b  a!=b  a in (x,y)  a notin (x,y)  a  !a  a>1  a<1   (comma-joined = AND)
//   fields:  metadata.name=x  metadata.namespace!=y  (every resource), plus the resource's own
//            selectable fields (Events: involvedObject.name=x, involvedObject.uid=…, reason=…, type=…)

import { ApiError, errors } from './errors.js';

export type Operator = '=' | '!=' | 'in' | 'notin' | 'exists' | '!' | '>' | '<';

export interface Requirement {
  key: string;
  op: Operator;
  values: string[];
}

export type Selector = Requirement[];

const labelValueRe = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const nameRe = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const dnsSubdomainRe = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A label key: optional DNS-subdomain prefix and `/`, then a name of at most 63 characters. */
export function labelKeyError(key: string): string | undefined {
  const slash = key.indexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length === 0 || prefix.length > 253 || !dnsSubdomainRe.test(prefix))) {
    return `prefix part of "${key}" must be a lowercase DNS subdomain`;
  }
  if (name.length === 0 || name.length > 63 || !nameRe.test(name)) {
    return `name part of "${key}" must consist of alphanumeric characters, '-', '_' or '.', start and end with an alphanumeric character, and be at most 63 characters`;
  }
  return undefined;
}

export function labelValueError(value: string): string | undefined {
  if (value.length > 63 || !labelValueRe.test(value)) {
    return `"${value}" must be empty or consist of alphanumeric characters, '-', '_' or '.', start and end with an alphanumeric character, and be at most 63 characters`;
  }
  return undefined;
}

function bad(selector: string, why: string): ApiError {
  return errors.badRequest(`unable to parse requirement: found invalid label selector "${selector}": ${why}`);
}

/** Splits on commas outside parentheses. */
function splitTopLevel(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

export function parseLabelSelector(input: string | undefined): Selector {
  if (input === undefined || input.trim() === '') return [];
  const reqs: Selector = [];
  for (const raw of splitTopLevel(input)) {
    const part = raw.trim();
    if (part === '') throw bad(input, 'empty requirement');
    let m: RegExpMatchArray | null;
    let req: Requirement;
    if ((m = part.match(/^!\s*([^\s=!<>(),]+)$/))) {
      req = { key: m[1]!, op: '!', values: [] };
    } else if ((m = part.match(/^([^\s=!<>(),]+)\s+(in|notin)\s*\((.*)\)$/))) {
      const values = m[3]!.split(',').map((v) => v.trim());
      req = { key: m[1]!, op: m[2] as 'in' | 'notin', values };
    } else if ((m = part.match(/^([^\s=!<>(),]+)\s*(==|=|!=|>|<)\s*([^\s=!<>(),]*)$/))) {
      const op = m[2] === '==' ? '=' : (m[2] as Operator);
      req = { key: m[1]!, op, values: [m[3]!] };
    } else if ((m = part.match(/^([^\s=!<>(),]+)$/))) {
      req = { key: m[1]!, op: 'exists', values: [] };
    } else {
      throw bad(input, `cannot parse "${part}"`);
    }
    const keyErr = labelKeyError(req.key);
    if (keyErr) throw bad(input, keyErr);
    for (const v of req.values) {
      if (req.op === '>' || req.op === '<') {
        if (!/^-?\d+$/.test(v)) throw bad(input, `for '${req.op}' the value must be an integer, got "${v}"`);
        continue;
      }
      const valErr = labelValueError(v);
      if (valErr) throw bad(input, valErr);
    }
    reqs.push(req);
  }
  return reqs;
}

export function matchesLabels(selector: Selector, labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  for (const r of selector) {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    const v = has ? l[r.key]! : undefined;
    switch (r.op) {
      case '=':
        if (v !== r.values[0]) return false;
        break;
      case '!=':
        if (v === r.values[0]) return false;
        break;
      case 'in':
        if (v === undefined || !r.values.includes(v)) return false;
        break;
      case 'notin':
        if (v !== undefined && r.values.includes(v)) return false;
        break;
      case 'exists':
        if (!has) return false;
        break;
      case '!':
        if (has) return false;
        break;
      case '>':
      case '<': {
        if (v === undefined || !/^-?\d+$/.test(v)) return false;
        const a = Number(v);
        const b = Number(r.values[0]);
        if (r.op === '>' ? !(a > b) : !(a < b)) return false;
        break;
      }
    }
  }
  return true;
}

export interface FieldRequirement {
  /** A dotted path into the object: metadata.name, metadata.namespace, involvedObject.uid, … */
  field: string;
  negate: boolean;
  value: string;
}

const META_FIELDS: readonly string[] = ['metadata.name', 'metadata.namespace'];

/** Parses a field selector; `selectable` names the fields beyond metadata.name/namespace the resource supports. */
export function parseFieldSelector(input: string | undefined, selectable: readonly string[] = []): FieldRequirement[] {
  if (input === undefined || input.trim() === '') return [];
  const out: FieldRequirement[] = [];
  for (const raw of input.split(',')) {
    const part = raw.trim();
    const m = part.match(/^([^=!]+?)\s*(==|=|!=)\s*(.*)$/);
    if (!m) throw errors.badRequest(`invalid field selector "${input}": cannot parse "${part}"`);
    const field = m[1]!;
    if (!META_FIELDS.includes(field) && !selectable.includes(field)) {
      throw errors.badRequest(`field label not supported: ${field}`);
    }
    out.push({ field, negate: m[2] === '!=', value: m[3]! });
  }
  return out;
}

/** A field's value as a selector compares it: scalars as text, anything absent as "" (as Kubernetes). */
function fieldValue(obj: unknown, field: string): string {
  let v: unknown = obj;
  for (const k of field.split('.')) {
    v = v !== null && typeof v === 'object' && !Array.isArray(v) && Object.hasOwn(v, k) ? (v as Record<string, unknown>)[k] : undefined;
  }
  return typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : '';
}

export function matchesFields(reqs: FieldRequirement[], obj: { metadata: { name?: string; namespace?: string } }): boolean {
  for (const r of reqs) {
    if ((fieldValue(obj, r.field) === r.value) === r.negate) return false;
  }
  return true;
}

/** The one name a field selector pins (`metadata.name=x`), if any — lets a list skip a scan. */
export function pinnedName(reqs: FieldRequirement[]): string | undefined {
  return reqs.find((r) => r.field === 'metadata.name' && !r.negate)?.value;
}
