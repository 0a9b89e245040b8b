// Schema-driven defaulting and pruning. Defaults come from the schemas' "default" keywords (a
// default of {} on an object schema makes its own defaults apply even when the user left it out).
// Both return a new object and leave the argument untouched.
import { childSchema, deref, getSchema, resolveFor, schemaId, type SchemaCursor, type SchemaName } from './schemas.js';
import type { ServedKindName } from './types.js';

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function rootCursor(name: SchemaName): SchemaCursor {
  return { schema: getSchema(name), base: schemaId(name) };
}

function fill(c: SchemaCursor, value: unknown): void {
  const r = resolveFor(c, value);
  if (!r) return;
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      const child = childSchema(r, value, String(i));
      if (child) fill(child.cursor, item);
    });
    return;
  }
  if (!isObject(value)) return;
  const props = (r.schema.properties ?? {}) as Record<string, Record<string, unknown>>;
  for (const [key, propSchema] of Object.entries(props)) {
    if (value[key] !== undefined) continue;
    const target = deref({ schema: propSchema, base: r.base }).schema;
    const def = propSchema.default !== undefined ? propSchema.default : target.default;
    if (def !== undefined) value[key] = structuredClone(def);
  }
  for (const key of Object.keys(value)) {
    const child = childSchema(r, value, key);
    if (child) fill(child.cursor, value[key]);
  }
}

/**
 * A copy of obj with every schema default filled in (spec.network.mode "none", Workspace
 * reclaimPolicy "Retain", …). Defaults that depend on the daemon's config (the image, resource
 * limits, TTL) are not schema defaults and stay absent.
 */
export function applyDefaults<T>(kind: ServedKindName | 'Config', obj: T): T {
  const copy = structuredClone(obj);
  fill(rootCursor(kind), copy);
  return copy;
}

function prune(c: SchemaCursor | undefined, value: unknown): void {
  const r = c && resolveFor(c, value);
  if (!r) return;
  if (Array.isArray(value)) {
    value.forEach((item, i) => prune(childSchema(r, value, String(i))?.cursor, item));
    return;
  }
  if (!isObject(value)) return;
  for (const key of Object.keys(value)) {
    const child = childSchema(r, value, key);
    if (child) prune(child.cursor, value[key]);
    else if (r.schema.additionalProperties === false) delete value[key];
  }
}

/** A copy of obj without the fields its schema does not know, as Kubernetes drops them. */
export function pruneUnknownFields<T>(kind: ServedKindName | 'Config', obj: T): T {
  const copy = structuredClone(obj);
  prune(rootCursor(kind), copy);
  return copy;
}
