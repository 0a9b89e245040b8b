// OpenAPI v2 and v3 documents generated from the kinds' JSON Schemas, each kind tagged with
// x-kubernetes-group-version-kind. kubectl reads them to learn that a PATCH accepts
// `fieldValidation` and `dryRun` (so it validates server-side), for `kubectl explain`, and to pick
// the patch type of client-side apply.

import { createHash } from 'node:crypto';
import type { ResourceDef, ResourceTable } from './resources.js';
import { GROUP, GROUP_VERSION, VERSION } from './resources.js';

type Schema = Record<string, unknown>;

const reversedGroup = GROUP.split('.').reverse().join('.');
export const definitionName = (kind: string) => `${reversedGroup}.${VERSION}.${kind}`;

// The schema keywords OpenAPI knows; the rest of draft-07 ($id, definitions, if/then, …) is dropped.
const keywordsV2 = new Set([
  'type', 'format', 'description', 'default', 'enum', 'multipleOf', 'maximum', 'exclusiveMaximum', 'minimum',
  'exclusiveMinimum', 'maxLength', 'minLength', 'pattern', 'maxItems', 'minItems', 'uniqueItems', 'maxProperties',
  'minProperties', 'required', 'items', 'properties', 'additionalProperties', 'allOf', 'example',
]);
const keywordsV3 = new Set([...keywordsV2, 'oneOf', 'anyOf', 'not', 'nullable']);

/** Inlines $refs (file refs resolved through the table, local refs within their document). */
function resolveSchema(table: ResourceTable, root: Schema, v3: boolean): Schema {
  const seen: string[] = [];
  const walk = (node: unknown, doc: Schema, depth: number): unknown => {
    if (Array.isArray(node)) return node.map((n) => walk(n, doc, depth));
    if (node === null || typeof node !== 'object') return node;
    const s = node as Schema;
    if (typeof s.$ref === 'string') {
      const [file, pointer] = s.$ref.split('#');
      const target = file ? table.schemaRefs[file.replace(/^.*\//, '')] : doc;
      let t: unknown = target;
      for (const seg of (pointer ?? '').split('/').filter(Boolean)) t = (t as Schema | undefined)?.[seg];
      const id = `${file}#${pointer ?? ''}`;
      if (!t || seen.includes(id) || depth > 32) return { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
      seen.push(id);
      const { $ref: _, ...rest } = s;
      const out = { ...(walk(t, (file ? target : doc) as Schema, depth + 1) as Schema), ...(walk(rest, doc, depth) as Schema) };
      seen.pop();
      return out;
    }
    const out: Schema = {};
    for (const [k, v] of Object.entries(s)) {
      if (k === 'const') {
        out.enum = [v];
        continue;
      }
      // JSON Schema draft-07's numeric exclusive bounds are OpenAPI's booleans beside the bound.
      if ((k === 'exclusiveMinimum' || k === 'exclusiveMaximum') && typeof v === 'number') {
        out[k === 'exclusiveMinimum' ? 'minimum' : 'maximum'] = v;
        out[k] = true;
        continue;
      }
      // A type list with "null" (JSON Schema) is a nullable type (OpenAPI 3.0).
      if (k === 'type' && Array.isArray(v)) {
        const types = v.filter((t) => t !== 'null');
        if (types.length === 1) out.type = types[0];
        if (v3 && types.length < v.length) out.nullable = true;
        continue;
      }
      if (!k.startsWith('x-') && !(v3 ? keywordsV3 : keywordsV2).has(k)) continue;
      if (k === 'properties' && v && typeof v === 'object') {
        out.properties = Object.fromEntries(Object.entries(v as Schema).map(([pk, pv]) => [pk, walk(pv, doc, depth)]));
        continue;
      }
      out[k] = walk(v, doc, depth);
    }
    return out;
  };
  return walk(root, root, 0) as Schema;
}

function kindSchema(table: ResourceTable, d: ResourceDef, v3: boolean): Schema {
  const base = d.schema ? resolveSchema(table, d.schema, v3) : { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  return { ...base, 'x-kubernetes-group-version-kind': [{ group: d.group, kind: d.kind, version: d.version }] };
}

function listSchema(d: ResourceDef, ref: (name: string) => string): Schema {
  return {
    description: `${d.listKind} is a list of ${d.kind}`,
    type: 'object',
    required: ['items'],
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: { type: 'object', properties: { resourceVersion: { type: 'string' }, continue: { type: 'string' }, remainingItemCount: { type: 'integer' } } },
      items: { type: 'array', items: { $ref: ref(definitionName(d.kind)) } },
    },
    'x-kubernetes-group-version-kind': [{ group: d.group, kind: d.listKind, version: d.version }],
  };
}

const queryParam = (name: string, type: string, description: string) => ({ name, in: 'query', description, type, uniqueItems: true });

const writeParams = [
  queryParam('dryRun', 'string', 'When present (All), validate and compute the result but persist nothing.'),
  queryParam('fieldManager', 'string', 'Name of the actor making the change; required for apply.'),
  queryParam('fieldValidation', 'string', 'Ignore, Warn (default) or Strict: how to treat unknown fields.'),
];

function paths(table: ResourceTable, v3: boolean, ref: (name: string) => string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const param = (p: ReturnType<typeof queryParam>) => (v3 ? { name: p.name, in: p.in, description: p.description, schema: { type: p.type } } : p);
  const pathParam = (name: string) => (v3 ? { name, in: 'path', required: true, schema: { type: 'string' } } : { name, in: 'path', required: true, type: 'string' });
  const body = (schemaRef: string, types: string[]) =>
    v3
      ? { requestBody: { required: true, content: Object.fromEntries(types.map((t) => [t, { schema: { $ref: schemaRef } }])) } }
      : { parameters: [{ name: 'body', in: 'body', required: true, schema: { $ref: schemaRef } }] };
  const response = (schemaRef: string) =>
    v3
      ? { 200: { description: 'OK', content: { 'application/json': { schema: { $ref: schemaRef } } } } }
      : { 200: { description: 'OK', schema: { $ref: schemaRef } } };
  const patchTypes = ['application/json-patch+json', 'application/merge-patch+json', 'application/apply-patch+yaml'];
  for (const d of table.defs) {
    const gvk = { group: d.group, version: d.version, kind: d.kind };
    const objRef = ref(definitionName(d.kind));
    const listRef = ref(definitionName(d.listKind));
    const op = (action: string, extra: Record<string, unknown>, params: unknown[] = []) => {
      const o: Record<string, unknown> = {
        operationId: `${action}${d.kind}`,
        'x-kubernetes-action': action,
        'x-kubernetes-group-version-kind': gvk,
        ...extra,
      };
      const bodyParams = (o.parameters as unknown[] | undefined) ?? [];
      o.parameters = [...params, ...bodyParams];
      if (v3) o.responses = o.responses ?? response(objRef);
      else o.responses = o.responses ?? response(objRef);
      return o;
    };
    const prefix = `/apis/${GROUP_VERSION}${d.namespaced ? '/namespaces/{namespace}' : ''}/${d.plural}`;
    const nsParams = d.namespaced ? [pathParam('namespace')] : [];
    out[prefix] = {
      parameters: nsParams,
      get: op('list', { responses: response(listRef) }, [param(queryParam('labelSelector', 'string', 'Label selector')), param(queryParam('watch', 'boolean', 'Watch'))]),
      post: op('post', body(objRef, ['application/json', 'application/yaml']), writeParams.map(param)),
      delete: op('deletecollection', {}, [param(queryParam('labelSelector', 'string', 'Label selector'))]),
    };
    const item = (sub: string) => ({
      parameters: [...nsParams, pathParam('name')],
      get: op('get', {}),
      put: op('put', body(objRef, ['application/json', 'application/yaml']), writeParams.map(param)),
      patch: op('patch', body(v3 ? objRef : objRef, patchTypes), [...writeParams.map(param), param(queryParam('force', 'boolean', 'Force apply'))]),
      ...(sub ? {} : { delete: op('delete', {}, [param(queryParam('dryRun', 'string', 'Dry run'))]) }),
    });
    out[`${prefix}/{name}`] = item('');
    if (d.hasStatus) out[`${prefix}/{name}/status`] = item('status');
  }
  return out;
}

export function openApiV2(table: ResourceTable) {
  const ref = (n: string) => `#/definitions/${n}`;
  const definitions: Record<string, unknown> = {};
  for (const d of table.defs) {
    definitions[definitionName(d.kind)] = kindSchema(table, d, false);
    definitions[definitionName(d.listKind)] = listSchema(d, ref);
  }
  return { swagger: '2.0', info: { title: 'Sandkasten', version: VERSION }, paths: paths(table, false, ref), definitions };
}

export function openApiV3GroupVersion(table: ResourceTable) {
  const ref = (n: string) => `#/components/schemas/${n}`;
  const schemas: Record<string, unknown> = {};
  for (const d of table.defs) {
    schemas[definitionName(d.kind)] = kindSchema(table, d, true);
    schemas[definitionName(d.listKind)] = listSchema(d, ref);
  }
  return { openapi: '3.0.0', info: { title: 'Sandkasten', version: VERSION }, paths: paths(table, true, ref), components: { schemas } };
}

export function openApiV3Index(doc: unknown) {
  const hash = createHash('sha512').update(JSON.stringify(doc)).digest('hex').slice(0, 64).toUpperCase();
  return { paths: { [`apis/${GROUP_VERSION}`]: { serverRelativeURL: `/openapi/v3/apis/${GROUP_VERSION}?hash=${hash}` } } };
}
