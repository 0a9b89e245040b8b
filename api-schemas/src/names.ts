// Kubernetes naming rules for names, namespaces, labels and annotations, with Kubernetes' messages
// (apimachinery/pkg/util/validation), so users see the errors they already know.
import type { FieldCause } from './types.js';

const DNS1123_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS1123_SUBDOMAIN = `${DNS1123_LABEL}(\\.${DNS1123_LABEL})*`;
const QUALIFIED_NAME_PART = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const LABEL_VALUE = `(${QUALIFIED_NAME_PART})?`;

const labelRe = new RegExp(`^${DNS1123_LABEL}$`);
const subdomainRe = new RegExp(`^${DNS1123_SUBDOMAIN}$`);
const namePartRe = new RegExp(`^${QUALIFIED_NAME_PART}$`);
const labelValueRe = new RegExp(`^${LABEL_VALUE}$`);

export const MAX_NAME_LENGTH = 253;
export const MAX_NAMESPACE_LENGTH = 63;
export const MAX_LABEL_VALUE_LENGTH = 63;
/** Total bytes of annotation keys and values, as in Kubernetes. */
export const MAX_ANNOTATIONS_BYTES = 256 * 1024;
/** Characters the server appends to generateName. */
export const GENERATED_NAME_SUFFIX_LENGTH = 5;

const SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '" +
  DNS1123_SUBDOMAIN +
  "')";
const LABEL_MSG =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '" +
  DNS1123_LABEL +
  "')";
const NAME_PART_MSG =
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '" +
  QUALIFIED_NAME_PART +
  "')";
const LABEL_VALUE_MSG =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '" +
  LABEL_VALUE +
  "')";

function invalid(field: string, value: unknown, detail: string): FieldCause {
  return { reason: 'FieldValueInvalid', field, message: `Invalid value: ${JSON.stringify(value)}: ${detail}` };
}

function typeInvalid(field: string, value: unknown, what: string): FieldCause {
  const shown = typeof value === 'string' ? JSON.stringify(value) : value === null ? 'null' : typeof value === 'object' ? (Array.isArray(value) ? 'array' : 'object') : String(value);
  return { reason: 'FieldValueTypeInvalid', field, message: `Invalid value: ${shown}: must be ${what}` };
}

/** True for a DNS-1123 subdomain of at most 253 characters ("my-session", "a.b"). */
export function isDns1123Subdomain(s: string): boolean {
  return s.length <= MAX_NAME_LENGTH && subdomainRe.test(s);
}

/** True for a DNS-1123 label of at most 63 characters ("default", "team-a"). */
export function isDns1123Label(s: string): boolean {
  return s.length <= 63 && labelRe.test(s);
}

/** The name of an object of any sandkasten.dev kind: a DNS-1123 subdomain, at most 253 characters. */
export function validateName(name: unknown, field = 'metadata.name'): FieldCause[] {
  if (typeof name !== 'string') return [typeInvalid(field, name, 'a string')];
  if (name === '') return [{ reason: 'FieldValueRequired', field, message: 'Required value: name or generateName is required' }];
  const out: FieldCause[] = [];
  if (name.length > MAX_NAME_LENGTH) out.push(invalid(field, name, `must be no more than ${MAX_NAME_LENGTH} characters`));
  if (!subdomainRe.test(name)) out.push(invalid(field, name, SUBDOMAIN_MSG));
  return out;
}

/** A generateName prefix: a name once the server's random suffix is appended (a trailing '-' is fine). */
export function validateGenerateName(prefix: unknown, field = 'metadata.generateName'): FieldCause[] {
  if (typeof prefix !== 'string') return [typeInvalid(field, prefix, 'a string')];
  if (prefix === '') return [];
  const out: FieldCause[] = [];
  const max = MAX_NAME_LENGTH - GENERATED_NAME_SUFFIX_LENGTH;
  if (prefix.length > max) out.push(invalid(field, prefix, `must be no more than ${max} characters`));
  // As Kubernetes does: a trailing '-' is allowed because the suffix follows it.
  const masked = prefix.endsWith('-') ? `${prefix.slice(0, -1)}a` : prefix;
  if (!subdomainRe.test(masked)) out.push(invalid(field, prefix, SUBDOMAIN_MSG));
  return out;
}

/** A namespace name: a DNS-1123 label, at most 63 characters. */
export function validateNamespace(ns: unknown, field = 'metadata.namespace'): FieldCause[] {
  if (typeof ns !== 'string') return [typeInvalid(field, ns, 'a string')];
  if (ns === '') return [{ reason: 'FieldValueRequired', field, message: 'Required value' }];
  const out: FieldCause[] = [];
  if (ns.length > MAX_NAMESPACE_LENGTH) out.push(invalid(field, ns, `must be no more than ${MAX_NAMESPACE_LENGTH} characters`));
  if (!labelRe.test(ns)) out.push(invalid(field, ns, LABEL_MSG));
  return out;
}

/** Problems of a qualified name ("app", "example.com/role"), as Kubernetes' IsQualifiedName. */
function qualifiedNameErrors(key: string): string[] {
  const parts = key.split('/');
  let name: string;
  const errs: string[] = [];
  if (parts.length === 1) {
    name = parts[0] as string;
  } else if (parts.length === 2) {
    const prefix = parts[0] as string;
    name = parts[1] as string;
    if (prefix.length === 0) errs.push('prefix part must be non-empty');
    else if (!isDns1123Subdomain(prefix)) errs.push(`prefix part ${SUBDOMAIN_MSG}`);
  } else {
    return [
      "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '" +
        QUALIFIED_NAME_PART +
        "') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    ];
  }
  if (name.length === 0) errs.push('name part must be non-empty');
  else if (name.length > 63) errs.push('name part must be no more than 63 characters');
  if (name.length > 0 && !namePartRe.test(name)) errs.push(NAME_PART_MSG);
  return errs;
}

function mapKeyField(field: string, key: string): string {
  return `${field}[${key}]`;
}

function checkStringMap(map: unknown, field: string): [string, string][] | FieldCause {
  if (map === null || typeof map !== 'object' || Array.isArray(map)) return typeInvalid(field, map, 'an object of string values');
  return Object.entries(map as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string');
}

/** Labels: qualified-name keys, values of at most 63 characters matching the label-value pattern. */
export function validateLabels(labels: unknown, field = 'metadata.labels'): FieldCause[] {
  const entries = checkStringMap(labels, field);
  if (!Array.isArray(entries)) return [entries];
  const out: FieldCause[] = [];
  for (const [k, v] of Object.entries(labels as Record<string, unknown>)) {
    if (typeof v !== 'string') out.push(typeInvalid(mapKeyField(field, k), v, 'a string'));
  }
  for (const [k, v] of entries) {
    for (const msg of qualifiedNameErrors(k)) out.push(invalid(field, k, msg));
    if (v.length > MAX_LABEL_VALUE_LENGTH) out.push(invalid(mapKeyField(field, k), v, `must be no more than ${MAX_LABEL_VALUE_LENGTH} characters`));
    if (!labelValueRe.test(v)) out.push(invalid(mapKeyField(field, k), v, LABEL_VALUE_MSG));
  }
  return out;
}

/** Annotations: qualified-name keys (case-insensitive), at most 256 KiB of keys and values in total. */
export function validateAnnotations(annotations: unknown, field = 'metadata.annotations'): FieldCause[] {
  const entries = checkStringMap(annotations, field);
  if (!Array.isArray(entries)) return [entries];
  const out: FieldCause[] = [];
  let total = 0;
  for (const [k, v] of Object.entries(annotations as Record<string, unknown>)) {
    if (typeof v !== 'string') out.push(typeInvalid(mapKeyField(field, k), v, 'a string'));
  }
  for (const [k, v] of entries) {
    for (const msg of qualifiedNameErrors(k.toLowerCase())) out.push(invalid(field, k, msg));
    total += Buffer.byteLength(k) + Buffer.byteLength(v);
  }
  if (total > MAX_ANNOTATIONS_BYTES) {
    out.push({ reason: 'FieldValueTooLong', field, message: `Too long: may not be more than ${MAX_ANNOTATIONS_BYTES} bytes` });
  }
  return out;
}

/** Finalizer names: qualified names ("sandkasten.dev/sandbox"), each at most once. */
export function validateFinalizers(finalizers: unknown, field = 'metadata.finalizers'): FieldCause[] {
  if (!Array.isArray(finalizers)) return [typeInvalid(field, finalizers, 'a list of strings')];
  const out: FieldCause[] = [];
  const seen = new Set<string>();
  finalizers.forEach((f: unknown, i) => {
    const at = `${field}[${i}]`;
    if (typeof f !== 'string') {
      out.push(typeInvalid(at, f, 'a string'));
      return;
    }
    for (const msg of qualifiedNameErrors(f)) out.push(invalid(at, f, msg));
    if (seen.has(f)) out.push({ reason: 'FieldValueDuplicate', field: at, message: `Duplicate value: ${JSON.stringify(f)}` });
    seen.add(f);
  });
  return out;
}
