// The API server's view of the resource table: what it serves under /apis/sandkasten.dev/v1 and
// how it validates objects. Built once from @sandkasten/api-schemas (the single source of truth).

import {
  applyDefaults as schemaDefaults,
  getSchema,
  pruneUnknownFields as schemaPrune,
  resources as schemaResources,
  schemasById,
  validateObject as schemaValidate,
  type KindName,
} from '@sandkasten/api-schemas';

export const GROUP = 'sandkasten.dev';
export const VERSION = 'v1';
export const GROUP_VERSION = `${GROUP}/${VERSION}`;

export interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  description?: string;
  priority?: number;
  format?: string;
}

export interface ResourceDef {
  group: string;
  version: string;
  plural: string;
  singular: string;
  kind: string;
  listKind: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  printerColumns: PrinterColumn[];
  /** Does the kind have a status subresource (written only through /status)? */
  hasStatus: boolean;
  /** Subresources besides status that extensions serve (exec, fs, …), listed in discovery. */
  subresources?: string[];
  /** Fields a field selector may name besides metadata.name/namespace ("involvedObject.uid"). */
  selectableFields?: string[];
  /** The kind's JSON Schema (draft-07, $refs resolvable through `schemaRefs`), for OpenAPI. */
  schema?: Record<string, unknown>;
}

export interface FieldCause {
  reason: string;
  message: string;
  field: string;
}

/** Validation as the API server needs it; implemented over api-schemas' validators. */
export interface Validator {
  /**
   * Schema validation plus the rules a schema cannot state (name syntax, label, annotation and
   * finalizer names, quantity ranges): causes for bad values, paths of fields the schema does not know.
   */
  validateObject(kind: string, obj: unknown): { causes: FieldCause[]; unknownFields: string[] };
  /** A copy of obj with schema defaults filled in. */
  applyDefaults(kind: string, obj: unknown): unknown;
  /** A copy of obj without the fields its schema does not know. */
  pruneUnknownFields(kind: string, obj: unknown): unknown;
}

export interface ResourceTable {
  defs: ResourceDef[];
  byPlural(plural: string): ResourceDef | undefined;
  /** Extra schemas the kinds' $refs point to (file name → schema), for OpenAPI. */
  schemaRefs: Record<string, Record<string, unknown>>;
}

export function makeTable(defs: ResourceDef[], schemaRefs: Record<string, Record<string, unknown>> = {}): ResourceTable {
  const map = new Map(defs.map((d) => [d.plural, d]));
  return { defs, byPlural: (p) => map.get(p), schemaRefs };
}

/** The table of sandkasten.dev/v1 as @sandkasten/api-schemas declares it. */
export function defaultResourceTable(): ResourceTable {
  const refs: Record<string, Record<string, unknown>> = {};
  for (const [id, schema] of schemasById) refs[id.replace(/^.*\//, '')] = schema;
  return makeTable(
    schemaResources.map((r) => ({
      group: r.group,
      version: r.version,
      plural: r.plural,
      singular: r.singular,
      kind: r.kind,
      listKind: r.listKind,
      namespaced: r.namespaced,
      shortNames: [...r.shortNames],
      categories: [...(r.categories ?? [])],
      printerColumns: r.printerColumns.map((c) => ({ ...c })),
      hasStatus: r.subresources.includes('status'),
      subresources: r.subresources.filter((s) => s !== 'status'),
      selectableFields: (r.selectableFields ?? []).map((p) => p.replace(/^\./, '')),
      schema: getSchema(r.kind),
    })),
    refs,
  );
}

/**
 * Defaults that come from the daemon's configuration rather than the schema (what a mutating
 * admission webhook does in Kubernetes): a Session without spec.image gets default_image, so
 * the stored object says which image it runs.
 */
export function withConfigDefaults(v: Validator, config: { default_image?: string }): Validator {
  const image = config.default_image;
  if (!image) return v;
  return {
    ...v,
    applyDefaults(kind, obj) {
      const out = v.applyDefaults(kind, obj); // a copy: safe to fill in
      const spec = (out as { spec?: Record<string, unknown> } | null)?.spec;
      if (kind === 'Session' && spec && typeof spec === 'object' && !spec.image) spec.image = image;
      return out;
    },
  };
}

export const schemaValidator: Validator = {
  validateObject: (kind, obj) => schemaValidate(kind, obj),
  applyDefaults: (kind, obj) => schemaDefaults(kind as KindName, obj),
  pruneUnknownFields: (kind, obj) => schemaPrune(kind as KindName, obj),
};
