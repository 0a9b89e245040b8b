// The JSON Schemas, loaded once from the package's schemas/ directory, and a small walker that
// follows $refs and oneOf branches so field paths and defaults can be derived from the schemas.
import { readFileSync, readdirSync } from 'node:fs';

export type JsonSchema = { [key: string]: unknown };

/** $id prefix of every schema file; a $ref such as "Quantity.json" resolves against it. */
export const SCHEMA_BASE_URI = 'https://sandkasten.dev/schemas/v1/';

/** The schema files by title-less name: "Session", "Workspace", "Image", "Event", "GitOpsSync", "Config", "ObjectMeta", … */
export type SchemaName =
  | 'Session'
  | 'Workspace'
  | 'Image'
  | 'Event'
  | 'GitOpsSync'
  | 'Config'
  | 'ObjectMeta'
  | 'ListMeta'
  | 'Condition'
  | 'Status'
  | 'Quantity'
  | 'CpuQuantity';

const dir = new URL('../schemas/', import.meta.url);

function loadAll(): Map<string, JsonSchema> {
  const byId = new Map<string, JsonSchema>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    const schema = JSON.parse(readFileSync(new URL(file, dir), 'utf8')) as JsonSchema;
    if (schema.$id !== SCHEMA_BASE_URI + file) throw new Error(`schemas/${file}: $id must be ${SCHEMA_BASE_URI + file}`);
    byId.set(schema.$id, schema);
  }
  return byId;
}

/** Every schema, by $id. */
export const schemasById: ReadonlyMap<string, JsonSchema> = loadAll();

export function schemaId(name: SchemaName): string {
  return `${SCHEMA_BASE_URI}${name}.json`;
}

/** The parsed JSON Schema of a kind or shared shape (the same object on every call: do not modify). */
export function getSchema(name: SchemaName): JsonSchema {
  const s = schemasById.get(schemaId(name));
  if (!s) throw new Error(`no schema ${name}`);
  return s;
}

/** A subschema together with the $id its relative $refs resolve against. */
export interface SchemaCursor {
  schema: JsonSchema;
  base: string;
}

function pointer(root: JsonSchema, fragment: string): JsonSchema | undefined {
  let node: unknown = root;
  for (const raw of fragment.split('/').slice(1)) {
    const seg = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[seg];
  }
  return node !== null && typeof node === 'object' ? (node as JsonSchema) : undefined;
}

/** Follows $ref until a schema without one. */
export function deref(c: SchemaCursor): SchemaCursor {
  let cur = c;
  for (let hops = 0; typeof cur.schema.$ref === 'string'; hops++) {
    if (hops > 32) throw new Error(`$ref loop at ${cur.base}`);
    const url = new URL(cur.schema.$ref as string, cur.base);
    const fragment = url.hash.slice(1);
    url.hash = '';
    const root = schemasById.get(url.href);
    const target = root && (fragment ? pointer(root, fragment) : root);
    if (!target) throw new Error(`unresolvable $ref ${cur.schema.$ref as string} from ${cur.base}`);
    cur = { schema: target, base: url.href };
  }
  return cur;
}

/** True when value is of JSON Schema type t. */
export function matchesType(t: unknown, value: unknown): boolean {
  if (Array.isArray(t)) return t.some((x) => matchesType(x, value));
  switch (t) {
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'integer':
      return Number.isInteger(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'null':
      return value === null;
    case 'array':
      return Array.isArray(value);
    case 'object':
      return value !== null && typeof value === 'object' && !Array.isArray(value);
    default:
      return true;
  }
}

/** Dereferences c and, for a oneOf, picks the branch whose type fits value (undefined when none does). */
export function resolveFor(c: SchemaCursor, value: unknown): SchemaCursor | undefined {
  const d = deref(c);
  const branches = d.schema.oneOf ?? d.schema.anyOf;
  if (!Array.isArray(branches)) return d;
  for (const b of branches as JsonSchema[]) {
    const r = resolveFor({ schema: b, base: d.base }, value);
    if (r && matchesType(r.schema.type, value)) return r;
  }
  return undefined;
}

export type ChildKind = 'property' | 'mapValue' | 'item';

/** The schema of parent[key], given the parent's (resolved) schema and value. */
export function childSchema(parent: SchemaCursor, parentValue: unknown, key: string): { cursor: SchemaCursor; kind: ChildKind } | undefined {
  const s = parent.schema;
  if (Array.isArray(parentValue)) {
    return s.items && typeof s.items === 'object' ? { cursor: { schema: s.items as JsonSchema, base: parent.base }, kind: 'item' } : undefined;
  }
  const props = s.properties as Record<string, JsonSchema> | undefined;
  if (props && Object.hasOwn(props, key)) return { cursor: { schema: props[key] as JsonSchema, base: parent.base }, kind: 'property' };
  if (s.additionalProperties && typeof s.additionalProperties === 'object') {
    return { cursor: { schema: s.additionalProperties as JsonSchema, base: parent.base }, kind: 'mapValue' };
  }
  return undefined;
}
