// Schema validation with Kubernetes-style results: every bad field with its field path
// (spec.env[2].name) and a StatusCause reason; unknown fields reported apart so the API server can
// reject them (fieldValidation=Strict) or only warn. The validators are compiled once, at load.
import { Ajv, type ErrorObject, type SchemaValidateFunction, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { childSchema, resolveFor, schemaId, schemasById, type SchemaCursor, type SchemaName } from './schemas.js';
import { validateAnnotations, validateFinalizers, validateGenerateName, validateLabels, validateName, validateNamespace } from './names.js';
import { parseCpu, parseQuantity } from './quantity.js';
import { KINDS, type FieldCause, type FieldCauseReason, type ServedKindName, type ValidationResult } from './types.js';

/** Smallest memory limit a session may ask for: below it not even the shell starts. */
export const MIN_SESSION_MEMORY_BYTES = 4 * 1024 * 1024;
export const MAX_SESSION_CPUS = 1024;

const listMapKeys: SchemaValidateFunction = function validate(keys: string[], data: unknown, _parent?: unknown, cxt?: { instancePath: string }) {
  const errors: Partial<ErrorObject>[] = [];
  if (Array.isArray(data)) {
    const seen = new Map<string, number>();
    data.forEach((item: unknown, i) => {
      if (item === null || typeof item !== 'object') return;
      const vals = keys.map((k) => (item as Record<string, unknown>)[k]);
      if (vals.some((v) => v === undefined)) return; // a missing key is a "required" error elsewhere
      const id = JSON.stringify(vals);
      const first = seen.get(id);
      if (first === undefined) {
        seen.set(id, i);
        return;
      }
      const keyPath = keys.length === 1 ? `/${(keys[0] as string).replace(/~/g, '~0').replace(/\//g, '~1')}` : '';
      errors.push({
        keyword: 'x-kubernetes-list-map-keys',
        instancePath: `${cxt?.instancePath ?? ''}/${i}${keyPath}`,
        params: { value: keys.length === 1 ? vals[0] : Object.fromEntries(keys.map((k, n) => [k, vals[n]])), first },
        message: 'duplicate',
      });
    });
  }
  (validate as SchemaValidateFunction).errors = errors as ErrorObject[];
  return errors.length === 0;
};

function buildAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, strictTypes: false });
  addFormatsModule.default(ajv, ['date-time']);
  ajv.addKeyword({ keyword: 'x-format-description', schemaType: 'string' });
  ajv.addKeyword({ keyword: 'x-kubernetes-list-type', schemaType: 'string' });
  ajv.addKeyword({ keyword: 'x-kubernetes-list-map-keys', type: 'array', schemaType: 'array', errors: true, validate: listMapKeys });
  for (const s of schemasById.values()) ajv.addSchema(s);
  return ajv;
}

const ajv = buildAjv();
const validators = new Map<SchemaName, ValidateFunction>();
for (const name of [...KINDS, 'Config', 'Status'] as SchemaName[]) {
  const v = ajv.getSchema(schemaId(name));
  if (!v) throw new Error(`schema ${name} did not compile`);
  validators.set(name, v);
}

// ---------- rendering ----------

function renderValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 256 ? `${v.slice(0, 256)}...` : v);
  if (v === undefined) return 'null';
  if (v !== null && typeof v === 'object') {
    const s = JSON.stringify(v);
    return s.length > 256 ? `${s.slice(0, 256)}...` : s;
  }
  return String(v);
}

const TYPE_NAMES: Record<string, string> = {
  integer: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'a boolean',
  object: 'an object',
  array: 'a list',
  null: 'null',
};

function typeList(types: unknown[]): string {
  const names = [...new Set(types.flat().map((t) => TYPE_NAMES[String(t)] ?? String(t)))];
  return names.length <= 1 ? (names[0] ?? 'valid') : `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
}

function formatDescription(e: ErrorObject): string | undefined {
  const d = (e.parentSchema as Record<string, unknown> | undefined)?.['x-format-description'];
  return typeof d === 'string' ? d : undefined;
}

// ---------- field paths ----------

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function decodePointer(p: string): string[] {
  return p === '' ? [] : p.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Kubernetes field path of a JSON pointer: "/spec/env/2/name" → "spec.env[2].name", map keys as [key]. */
function toFieldPath(pointer: string, rootSchema: SchemaCursor, root: unknown): string {
  let out = '';
  let cursor: SchemaCursor | undefined = rootSchema;
  let value: unknown = root;
  for (const seg of decodePointer(pointer)) {
    const resolved: SchemaCursor | undefined = cursor && resolveFor(cursor, value);
    const child: ReturnType<typeof childSchema> = resolved ? childSchema(resolved, value, seg) : undefined;
    if (Array.isArray(value) || child?.kind === 'mapValue' || !IDENT.test(seg)) out += `[${seg}]`;
    else out += out === '' ? seg : `.${seg}`;
    cursor = child?.cursor;
    value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[seg] : undefined;
  }
  return out;
}

function join(pointer: string, key: string | number): string {
  return `${pointer}/${String(key).replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

// ---------- ajv errors → causes ----------

interface Pending {
  pointer: string;
  reason: FieldCauseReason;
  message: string;
}

/**
 * Collapses oneOf failures: when exactly one branch has the value's type, that branch's errors
 * stand (e.g. a bad quantity pattern); when none has, one "must be X or Y" type error.
 * Our schemas keep every oneOf alone at its location and give every branch a type.
 */
function collapseOneOf(errors: ErrorObject[]): { keep: boolean[]; replaced: Map<number, Pending> } {
  const keep = errors.map(() => true);
  const replaced = new Map<number, Pending>();
  errors.forEach((e, j) => {
    if (e.keyword !== 'oneOf' && e.keyword !== 'anyOf') return;
    const p = e.instancePath;
    const range: number[] = [];
    for (let i = j - 1; i >= 0; i--) {
      const ip = (errors[i] as ErrorObject).instancePath;
      if (ip !== p && !ip.startsWith(`${p}/`)) break;
      range.push(i);
    }
    range.reverse(); // branch order, for messages such as "a string or an object"
    const live = range.filter((i) => keep[i]);
    const branches = Array.isArray(e.schema) ? e.schema.length : 0;
    const typeErrs = live.filter((i) => (errors[i] as ErrorObject).keyword === 'type' && (errors[i] as ErrorObject).instancePath === p);
    const desc = formatDescription(e);
    keep[j] = false;
    if (typeErrs.length === branches - 1 && live.length > typeErrs.length) {
      for (const i of typeErrs) keep[i] = false;
      return;
    }
    for (const i of range) {
      keep[i] = false;
      replaced.delete(i);
    }
    if (typeErrs.length >= branches) {
      const types = typeErrs.map((i) => (errors[i] as ErrorObject).params.type as unknown);
      replaced.set(j, { pointer: p, reason: 'FieldValueTypeInvalid', message: `Invalid value: ${renderValue(e.data)}: must be ${desc ?? typeList(types)}` });
    } else {
      replaced.set(j, { pointer: p, reason: 'FieldValueInvalid', message: `Invalid value: ${renderValue(e.data)}: must be ${desc ?? 'one of the allowed forms'}` });
    }
  });
  return { keep, replaced };
}

function toPending(e: ErrorObject, unknown: string[]): Pending | undefined {
  const p = e.instancePath;
  const v = renderValue(e.data);
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      unknown.push(join(p, params.additionalProperty as string));
      return undefined;
    case 'required':
      return { pointer: join(p, params.missingProperty as string), reason: 'FieldValueRequired', message: 'Required value' };
    case 'type':
      return { pointer: p, reason: 'FieldValueTypeInvalid', message: `Invalid value: ${v}: must be ${typeList([params.type])}` };
    case 'enum':
    case 'const': {
      const allowed = (e.keyword === 'enum' ? (params.allowedValues as unknown[]) : [params.allowedValue]).map(renderValue).join(', ');
      return { pointer: p, reason: 'FieldValueNotSupported', message: `Unsupported value: ${v}: supported values: ${allowed}` };
    }
    case 'pattern': {
      const d = formatDescription(e);
      return { pointer: p, reason: 'FieldValueInvalid', message: `Invalid value: ${v}: must be ${d ?? `a string matching the regular expression '${String(params.pattern)}'`}` };
    }
    case 'format': {
      const d = params.format === 'date-time' ? 'an RFC 3339 date-time such as "2025-01-31T12:00:00Z"' : `in ${String(params.format)} format`;
      return { pointer: p, reason: 'FieldValueInvalid', message: `Invalid value: ${v}: must be ${d}` };
    }
    case 'minimum':
      return { pointer: p, reason: 'FieldValueInvalid', message: `Invalid value: ${v}: must be greater than or equal to ${String(params.limit)}` };
    case 'exclusiveMinimum':
      return { pointer: p, reason: 'FieldValueInvalid', message: `Invalid value: ${v}: must be greater than ${String(params.limit)}` };
    case 'maximum':
      return { pointer: p, reason: 'FieldValueInvalid', message: `Invalid value: ${v}: must be less than or equal to ${String(params.limit)}` };
    case 'exclusiveMaximum':
      return { pointer: p, reason: 'FieldValueInvalid', message: `Invalid value: ${v}: must be less than ${String(params.limit)}` };
    case 'maxLength':
      return { pointer: p, reason: 'FieldValueTooLong', message: `Too long: may not be more than ${String(params.limit)} characters` };
    case 'minLength':
      return e.data === ''
        ? { pointer: p, reason: 'FieldValueRequired', message: 'Required value' }
        : { pointer: p, reason: 'FieldValueInvalid', message: `Invalid value: ${v}: must be at least ${String(params.limit)} characters` };
    case 'maxItems':
      return { pointer: p, reason: 'FieldValueTooLong', message: `Too many: ${Array.isArray(e.data) ? e.data.length : '?'}: must have at most ${String(params.limit)} items` };
    case 'minItems':
      return { pointer: p, reason: 'FieldValueInvalid', message: `Invalid value: ${v}: must have at least ${String(params.limit)} items` };
    case 'maxProperties':
      return { pointer: p, reason: 'FieldValueTooLong', message: `Too many: must have at most ${String(params.limit)} entries` };
    case 'uniqueItems': {
      const j = params.j as number;
      const item = Array.isArray(e.data) ? (e.data as unknown[])[j] : undefined;
      return { pointer: join(p, j), reason: 'FieldValueDuplicate', message: `Duplicate value: ${renderValue(item)}` };
    }
    case 'x-kubernetes-list-map-keys':
      return { pointer: p, reason: 'FieldValueDuplicate', message: `Duplicate value: ${renderValue(params.value)}` };
    case 'not':
      return { pointer: p, reason: 'FieldValueForbidden', message: 'Forbidden' };
    default:
      return { pointer: p, reason: 'FieldValueInvalid', message: `Invalid value: ${v}: ${e.message ?? 'is invalid'}` };
  }
}

/** Validates obj against a schema; every problem, none thrown. */
export function validateAgainst(name: SchemaName, obj: unknown): ValidationResult {
  const validate = validators.get(name) ?? ajv.getSchema(schemaId(name));
  if (!validate) throw new Error(`no schema ${name}`);
  if (validate(obj)) return { causes: [], unknownFields: [] };
  const errors = validate.errors ?? [];
  const { keep, replaced } = collapseOneOf(errors);
  const unknownPointers: string[] = [];
  const pending: Pending[] = [];
  errors.forEach((e, i) => {
    const r = replaced.get(i);
    if (r) pending.push(r);
    else if (keep[i]) {
      const pe = toPending(e, unknownPointers);
      if (pe) pending.push(pe);
    }
  });
  const root: SchemaCursor = { schema: schemasById.get(schemaId(name)) as Record<string, unknown>, base: schemaId(name) };
  const seen = new Set<string>();
  const causes: FieldCause[] = [];
  for (const pe of pending) {
    const cause = { reason: pe.reason, message: pe.message, field: toFieldPath(pe.pointer, root, obj) };
    const key = `${cause.field}\0${cause.reason}\0${cause.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      causes.push(cause);
    }
  }
  // An empty required string fails minLength and pattern alike; "Required value" says it all.
  const required = new Set(causes.filter((c) => c.reason === 'FieldValueRequired').map((c) => c.field));
  const unknownFields = [...new Set(unknownPointers.map((p) => toFieldPath(p, root, obj)))];
  return { causes: causes.filter((c) => c.reason === 'FieldValueRequired' || !required.has(c.field)), unknownFields };
}

// ---------- rules beyond the schemas ----------

function get(obj: unknown, ...path: string[]): unknown {
  let v = obj;
  for (const k of path) v = v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

function metadataCauses(obj: unknown): FieldCause[] {
  const meta = get(obj, 'metadata');
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) return [];
  const m = meta as Record<string, unknown>;
  const out: FieldCause[] = [];
  const hasGenerate = typeof m.generateName === 'string' && m.generateName !== '';
  if (typeof m.name === 'string' && !(m.name === '' && hasGenerate)) out.push(...validateName(m.name));
  if (typeof m.generateName === 'string') out.push(...validateGenerateName(m.generateName));
  if (typeof m.namespace === 'string' && m.namespace !== '') out.push(...validateNamespace(m.namespace));
  if (m.labels !== undefined) out.push(...validateLabels(m.labels));
  if (m.annotations !== undefined) out.push(...validateAnnotations(m.annotations));
  if (m.finalizers !== undefined) out.push(...validateFinalizers(m.finalizers));
  return out;
}

function quantityCause(field: string, value: unknown, parse: (q: string | number) => number, check: (n: number) => string | undefined): FieldCause[] {
  if (typeof value !== 'string' && typeof value !== 'number') return [];
  let n: number;
  try {
    n = parse(value);
  } catch {
    return []; // the schema has reported the syntax
  }
  const problem = check(n);
  return problem ? [{ reason: 'FieldValueInvalid', field, message: `Invalid value: ${renderValue(value)}: ${problem}` }] : [];
}

const kindRules: Record<ServedKindName, (obj: unknown) => FieldCause[]> = {
  Session: (obj) => [
    ...quantityCause('spec.resources.cpu', get(obj, 'spec', 'resources', 'cpu'), parseCpu, (n) =>
      n <= 0 ? 'must be greater than 0' : n > MAX_SESSION_CPUS ? `must be less than or equal to ${MAX_SESSION_CPUS}` : undefined,
    ),
    ...quantityCause('spec.resources.memory', get(obj, 'spec', 'resources', 'memory'), parseQuantity, (n) =>
      n < MIN_SESSION_MEMORY_BYTES ? `must be at least 4Mi (${MIN_SESSION_MEMORY_BYTES} bytes)` : undefined,
    ),
  ],
  Workspace: (obj) => [
    ...quantityCause('spec.sizeLimit', get(obj, 'spec', 'sizeLimit'), parseQuantity, (n) => (n <= 0 ? 'must be greater than 0' : undefined)),
  ],
  Image: () => [],
  Event: (obj) => eventRules(obj),
  GitOpsSync: () => [],
};

/**
 * An Event lives beside its object, as Kubernetes' event validation demands: in the object's
 * namespace, or in "default" when the object is cluster-scoped (has no namespace).
 */
function eventRules(obj: unknown): FieldCause[] {
  const out: FieldCause[] = [];
  const ns = get(obj, 'metadata', 'namespace');
  const objNs = get(obj, 'involvedObject', 'namespace');
  if (typeof ns === 'string' && ns !== '') {
    if (objNs === undefined || objNs === '') {
      if (ns !== 'default') {
        out.push({
          reason: 'FieldValueInvalid',
          field: 'involvedObject.namespace',
          message: `Invalid value: "": events about cluster-scoped objects belong in namespace "default", not ${renderValue(ns)}`,
        });
      }
    } else if (typeof objNs === 'string' && objNs !== ns) {
      out.push({ reason: 'FieldValueInvalid', field: 'involvedObject.namespace', message: `Invalid value: ${renderValue(objNs)}: does not match event.namespace` });
    }
  }
  const first = get(obj, 'firstTimestamp');
  const last = get(obj, 'lastTimestamp');
  if (typeof first === 'string' && typeof last === 'string' && Date.parse(last) < Date.parse(first)) {
    out.push({ reason: 'FieldValueInvalid', field: 'lastTimestamp', message: `Invalid value: ${renderValue(last)}: must not be before firstTimestamp` });
  }
  return out;
}

/**
 * Validates a Session, Workspace, Image or Event: the schema, then the rules a schema cannot state
 * (name, generateName and namespace syntax, label, annotation and finalizer names, quantity ranges,
 * an Event's namespace).
 */
export function validateObject(kind: string, obj: unknown): ValidationResult {
  if (!(KINDS as readonly string[]).includes(kind)) {
    return {
      causes: [{ reason: 'FieldValueNotSupported', field: 'kind', message: `Unsupported value: ${renderValue(kind)}: supported values: ${KINDS.map((k) => `"${k}"`).join(', ')}` }],
      unknownFields: [],
    };
  }
  const result = validateAgainst(kind as SchemaName, obj);
  const taken = new Set(result.causes.map((c) => c.field));
  for (const c of [...metadataCauses(obj), ...kindRules[kind as ServedKindName](obj)]) {
    if (!taken.has(c.field)) result.causes.push(c);
  }
  return result;
}

/** The warning or error text for an unknown field, as the Kubernetes API server words it. */
export function unknownFieldMessage(field: string): string {
  return `unknown field "${field}"`;
}

/**
 * The message of an Invalid Status, worded as the Kubernetes API server does:
 * `Session.sandkasten.dev "dev" is invalid: [spec.ttlSeconds: Invalid value: -1: …, …]`.
 */
export function invalidMessage(kind: string, name: string, causes: FieldCause[]): string {
  const parts = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message));
  const list = parts.length === 1 ? (parts[0] as string) : `[${parts.join(', ')}]`;
  return `${kind}.sandkasten.dev ${JSON.stringify(name)} is invalid: ${list}`;
}
