// The write semantics of one resource over the Store: server-owned metadata, generation, the
// status split, finalizers, optimistic concurrency, patch and apply, dry runs. Every operation is
// synchronous from its read to its write — the store is synchronous and single-process — so a
// read-modify-write cannot interleave with another request.

import { randomInt, randomUUID } from 'node:crypto';
import type { ObjectKey, Store, StoredObject } from '../store/types.js';
import { ApiError, errors, type StatusCause } from './errors.js';
import { applyJsonPatch, applyMerge, clone, deepEqual, isObject, mergePatch, type JsonObject } from './merge.js';
import type { ResourceDef, Validator } from './resources.js';
import type { PatchType } from './body.js';

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';
export type Subresource = '' | 'status';

export interface WriteOptions {
  dryRun: boolean;
  fieldValidation: FieldValidation;
  fieldManager?: string;
  force?: boolean;
  /** Filled with Warning header texts (unknown fields under Warn). */
  warnings: string[];
}

/** Where apply keeps each field manager's last applied configuration (JSON: manager → config). */
export const LAST_APPLIED = 'sandkasten.dev/last-applied';

/** Metadata only the server writes: clients' values are ignored. */
const SERVER_META = [
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'managedFields',
  'selfLink',
];

const META_ORDER = [
  'name',
  'generateName',
  'namespace',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'labels',
  'annotations',
  'finalizers',
  'ownerReferences',
];

/** RFC 3339 with seconds precision, as Kubernetes writes timestamps. */
export function nowRfc3339(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const suffixAlphabet = 'bcdfghjklmnpqrstvwxz2456789';
export function generateName(prefix: string): string {
  let s = prefix.length > 58 ? prefix.slice(0, 58) : prefix;
  for (let i = 0; i < 5; i++) s += suffixAlphabet[randomInt(suffixAlphabet.length)];
  return s;
}

export function parseResourceVersion(s: unknown, what = 'resourceVersion'): number {
  if (typeof s !== 'string' || !/^\d{1,15}$/.test(s)) {
    throw errors.badRequest(`invalid ${what} ${JSON.stringify(s)}: must be a decimal resource version`);
  }
  return Number(s);
}

/** A body's metadata.resourceVersion as a precondition: absent or "" means none. */
function expectedVersion(rv: unknown): number | undefined {
  return rv === undefined || rv === '' ? undefined : parseResourceVersion(rv, 'metadata.resourceVersion');
}

/** apiVersion, kind, metadata (keys in the usual order), spec, the rest, status: readable output. */
function ordered(obj: JsonObject): StoredObject {
  const meta = obj.metadata as JsonObject;
  const m: JsonObject = {};
  for (const k of META_ORDER) if (meta[k] !== undefined) m[k] = meta[k]!;
  for (const [k, v] of Object.entries(meta)) if (!(k in m) && v !== undefined) m[k] = v;
  const out: JsonObject = { apiVersion: obj.apiVersion!, kind: obj.kind!, metadata: m };
  if (obj.spec !== undefined) out.spec = obj.spec;
  for (const [k, v] of Object.entries(obj)) if (!(k in out) && k !== 'status' && v !== undefined) out[k] = v;
  if (obj.status !== undefined) out.status = obj.status;
  return out as unknown as StoredObject;
}

export class Registry {
  constructor(
    private readonly store: Store,
    readonly def: ResourceDef,
    private readonly validator: Validator,
  ) {}

  key(namespace: string, name: string): ObjectKey {
    return { resource: this.def.plural, namespace: this.def.namespaced ? namespace : '', name };
  }

  private target(name: string) {
    return { group: this.def.group, resource: this.def.plural, name };
  }

  private invalid(name: string, causes: StatusCause[]): ApiError {
    return errors.invalid(this.def.kind, this.def.group, name, causes);
  }

  notFound(name: string): ApiError {
    return errors.notFound(this.target(name));
  }

  get(namespace: string, name: string): StoredObject {
    const obj = this.store.get(this.key(namespace, name));
    if (!obj) throw this.notFound(name);
    return obj;
  }

  /** Checks the envelope of a body (object, apiVersion, kind, metadata, namespace) and copies it. */
  private envelope(body: unknown, namespace: string, what: string): JsonObject {
    if (!isObject(body)) throw errors.badRequest(`${what} must be a JSON object`);
    const obj = clone(body);
    const { group, version, kind } = this.def;
    const gv = `${group}/${version}`;
    if (obj.apiVersion === undefined || obj.apiVersion === '') throw errors.badRequest(`Object 'apiVersion' is missing: expected "${gv}"`);
    if (obj.apiVersion !== gv) {
      throw errors.badRequest(`the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${gv})`);
    }
    if (obj.kind === undefined || obj.kind === '') throw errors.badRequest(`Object 'Kind' is missing: expected "${kind}"`);
    if (obj.kind !== kind) throw errors.badRequest(`the kind in the data (${String(obj.kind)}) does not match the expected kind (${kind})`);
    if (obj.metadata === undefined || obj.metadata === null) obj.metadata = {};
    if (!isObject(obj.metadata)) throw errors.badRequest('metadata must be an object');
    const meta = obj.metadata;
    if (this.def.namespaced) {
      if (meta.namespace !== undefined && meta.namespace !== '' && meta.namespace !== namespace) {
        throw errors.badRequest(
          `the namespace of the provided object (${String(meta.namespace)}) does not match the namespace sent on the request (${namespace})`,
        );
      }
      meta.namespace = namespace;
    } else if (meta.namespace !== undefined && meta.namespace !== '') {
      throw this.invalid(String(meta.name ?? ''), [
        { reason: 'FieldValueForbidden', message: 'Forbidden: not allowed on this type', field: 'metadata.namespace' },
      ]);
    } else delete meta.namespace;
    return obj;
  }

  /** envelope() for a body sent to a named object's URL: its name is that name, or absent. */
  private named(body: unknown, namespace: string, name: string, what: string): JsonObject {
    const obj = this.envelope(body, namespace, what);
    const meta = obj.metadata as JsonObject;
    if (meta.name === undefined || meta.name === '') meta.name = name;
    if (meta.name !== name) {
      throw errors.badRequest(`the name of the object (${String(meta.name)}) does not match the name on the URL (${name})`);
    }
    return obj;
  }

  /** Defaults, unknown-field pruning (Strict: reject), schema and metadata validation. */
  private admit(input: JsonObject, opts: WriteOptions): JsonObject {
    const kind = this.def.kind;
    let obj = this.validator.applyDefaults(kind, input) as JsonObject;
    const { causes, unknownFields } = this.validator.validateObject(kind, obj);
    if (unknownFields.length > 0) {
      if (opts.fieldValidation === 'Strict') {
        throw errors.badRequest(`strict decoding error: ${unknownFields.map((f) => `unknown field "${f}"`).join(', ')}`);
      }
      if (opts.fieldValidation === 'Warn') for (const f of unknownFields) opts.warnings.push(`unknown field "${f}"`);
      // Kubernetes prunes fields a structural schema does not know; so do we.
      obj = this.validator.pruneUnknownFields(kind, obj) as JsonObject;
    }
    const unknown = new Set(unknownFields);
    const all = causes.filter((c) => !unknown.has(c.field));
    if (all.length > 0) {
      const meta = obj.metadata as JsonObject;
      throw this.invalid(String(meta.name || meta.generateName || ''), all);
    }
    return obj;
  }

  create(namespace: string, body: unknown, opts: WriteOptions): StoredObject {
    const obj = this.envelope(body, namespace, 'the object');
    const meta = obj.metadata as JsonObject;
    for (const k of SERVER_META) delete meta[k];
    // Status is the controllers' to write (through /status), even on create.
    if (this.def.hasStatus) delete obj.status;
    const generated = (meta.name === undefined || meta.name === '') && typeof meta.generateName === 'string' && meta.generateName !== '';
    if (generated) meta.name = generateName(meta.generateName as string);
    if (meta.name === undefined || meta.name === '') {
      throw this.invalid('', [{ reason: 'FieldValueRequired', message: 'Required value: name or generateName is required', field: 'metadata.name' }]);
    }
    meta.uid = randomUUID();
    meta.creationTimestamp = nowRfc3339();
    meta.generation = 1;
    const admitted = this.admit(obj, opts);
    const ameta = admitted.metadata as JsonObject;
    // A generated name that collides is drawn again (the prefix is the client's, the suffix ours).
    for (let attempt = 0; ; attempt++) {
      const key = this.key(namespace, ameta.name as string);
      const out = ordered(admitted);
      if (opts.dryRun) {
        if (!this.store.get(key)) return out;
      } else {
        const r = this.store.create(key, out);
        if (r.ok) return r.object;
      }
      if (!generated || attempt >= 8) throw errors.alreadyExists(this.target(ameta.name as string));
      ameta.name = generateName(ameta.generateName as string);
    }
  }

  update(namespace: string, name: string, body: unknown, sub: Subresource, opts: WriteOptions): StoredObject {
    const cur = this.get(namespace, name);
    const cand = this.named(body, namespace, name, 'the object');
    const expected = expectedVersion((cand.metadata as JsonObject).resourceVersion);
    return this.commit(cur, this.prepare(cur, cand, sub), expected, opts);
  }

  patch(
    namespace: string,
    name: string,
    type: PatchType,
    patch: unknown,
    sub: Subresource,
    opts: WriteOptions,
  ): { object: StoredObject; created: boolean } {
    if (type === 'apply') return this.apply(namespace, name, patch, sub, opts);
    const cur = this.get(namespace, name);
    const patched = type === 'merge' ? mergePatch(cur, patch) : applyJsonPatch(cur, patch);
    const cand = this.envelope(patched, namespace, 'the patched object');
    this.checkImmutable(cur, cand);
    const curRv = cur.metadata.resourceVersion;
    const rv = (cand.metadata as JsonObject).resourceVersion;
    // A patch that names a resourceVersion makes it a precondition, as in Kubernetes.
    const expected = rv !== undefined && rv !== curRv ? parseResourceVersion(rv, 'metadata.resourceVersion') : undefined;
    return { object: this.commit(cur, this.prepare(cur, cand, sub), expected, opts), created: false };
  }

  private checkImmutable(cur: StoredObject, cand: JsonObject): void {
    const meta = cand.metadata as JsonObject;
    const causes: StatusCause[] = [];
    for (const f of ['name', 'namespace', 'uid'] as const) {
      const want = cur.metadata[f] ?? (f === 'namespace' ? undefined : '');
      const got = meta[f];
      if (got !== undefined && got !== want && !(f === 'namespace' && got === '' && want === undefined)) {
        causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(got)}: field is immutable`, field: `metadata.${f}` });
      }
    }
    if (causes.length > 0) throw this.invalid(cur.metadata.name, causes);
  }

  /** The object an update would store: server-owned fields and (for the main resource) status kept. */
  private prepare(cur: StoredObject, cand: JsonObject, sub: Subresource): JsonObject {
    let next: JsonObject;
    if (sub === 'status') {
      next = clone(cur) as unknown as JsonObject;
      if (cand.status === undefined) delete next.status;
      else next.status = cand.status;
      return next;
    }
    this.checkImmutable(cur, cand);
    next = cand;
    const meta = next.metadata as JsonObject;
    for (const k of SERVER_META) delete meta[k];
    for (const k of ['uid', 'creationTimestamp', 'generation', 'deletionTimestamp', 'deletionGracePeriodSeconds']) {
      const v = cur.metadata[k];
      if (v !== undefined) meta[k] = clone(v) as JsonObject[string];
    }
    if (this.def.hasStatus) {
      if (cur.status === undefined) delete next.status;
      else next.status = clone(cur.status) as JsonObject[string];
    }
    return next;
  }

  /** Validates, bumps generation, enforces finalizer rules and concurrency, then writes (or not). */
  private commit(cur: StoredObject, next: JsonObject, expected: number | undefined, opts: WriteOptions): StoredObject {
    const name = cur.metadata.name;
    const curRv = parseResourceVersion(cur.metadata.resourceVersion, 'stored resourceVersion');
    if (expected !== undefined && expected !== curRv) {
      throw errors.conflict(this.target(name), 'the object has been modified; please apply your changes to the latest version and try again');
    }
    next = this.admit(next, opts);
    const meta = next.metadata as JsonObject;
    const curGen = typeof cur.metadata.generation === 'number' ? cur.metadata.generation : 1;
    meta.generation = deepEqual(cur.spec, next.spec) ? curGen : curGen + 1;
    const finalizers = Array.isArray(meta.finalizers) ? (meta.finalizers as string[]) : [];
    if (cur.metadata.deletionTimestamp) {
      const had = new Set((cur.metadata.finalizers as string[] | undefined) ?? []);
      const added = finalizers.filter((f) => !had.has(f));
      if (added.length > 0) {
        throw this.invalid(name, [
          {
            reason: 'FieldValueForbidden',
            message: `Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`,
            field: 'metadata.finalizers',
          },
        ]);
      }
    }
    meta.resourceVersion = cur.metadata.resourceVersion!;
    const out = ordered(next);
    // Kubernetes does not write (nor bump resourceVersion for) an update that changes nothing.
    if (deepEqual(out, cur)) return cur;
    if (opts.dryRun) return out;
    const key = this.key(cur.metadata.namespace ?? '', name);
    delete out.metadata.resourceVersion;
    const r = this.store.update(key, out, curRv);
    if (!r.ok) throw this.writeFailure(r.reason, name);
    // The last finalizer gone from an object being deleted: it goes now (MODIFIED, then DELETED).
    if (cur.metadata.deletionTimestamp && finalizers.length === 0) {
      const d = this.store.delete(key, parseResourceVersion(r.object.metadata.resourceVersion));
      if (!d.ok) throw this.writeFailure(d.reason, name);
    }
    return r.object;
  }

  private writeFailure(reason: string, name: string): ApiError {
    if (reason === 'NotFound') return this.notFound(name);
    if (reason === 'AlreadyExists') return errors.alreadyExists(this.target(name));
    return errors.conflict(this.target(name), 'the object has been modified; please apply your changes to the latest version and try again');
  }

  /**
   * Server-side apply: an upsert that three-way merges the applied configuration against the
   * same field manager's previous one (kept in the LAST_APPLIED annotation), so fields the manager
   * dropped are removed while status and fields set by others stay. Apply always wins (as with
   * force=true): there is no per-field ownership conflict.
   */
  private apply(namespace: string, name: string, config: unknown, sub: Subresource, opts: WriteOptions): { object: StoredObject; created: boolean } {
    const manager = opts.fieldManager;
    if (!manager) throw errors.badRequest('fieldManager is required for apply requests (PATCH with application/apply-patch+yaml)');
    const cfg = this.named(config, namespace, name, 'the apply configuration');
    const meta = cfg.metadata as JsonObject;
    const expected = expectedVersion(meta.resourceVersion);
    for (const k of SERVER_META) delete meta[k];
    const cur = this.store.get(this.key(namespace, name));
    if (sub === 'status') {
      if (!cur) throw this.notFound(name);
      const merged = mergePatch(cur, { status: cfg.status ?? null }) as JsonObject;
      return { object: this.commit(cur, this.prepare(cur, merged, 'status'), expected, opts), created: false };
    }
    if (this.def.hasStatus) delete cfg.status;
    if (isObject(meta.annotations)) delete meta.annotations[LAST_APPLIED];
    const record = (previous: Record<string, unknown>, target: JsonObject) => {
      const m = target.metadata as JsonObject;
      const annotations: JsonObject = isObject(m.annotations) ? { ...m.annotations } : {};
      annotations[LAST_APPLIED] = JSON.stringify({ ...previous, [manager]: cfg });
      m.annotations = annotations;
    };
    if (!cur) {
      const obj = clone(cfg);
      record({}, obj);
      return { object: this.create(namespace, obj, opts), created: true };
    }
    let previous: Record<string, unknown> = {};
    const raw = (cur.metadata.annotations as Record<string, string> | undefined)?.[LAST_APPLIED];
    if (raw) {
      try {
        const p = JSON.parse(raw) as unknown;
        if (isObject(p)) previous = p;
      } catch {
        // An annotation someone else garbled: treat as no previous apply.
      }
    }
    const merged = clone(applyMerge(cur, previous[manager], cfg)) as JsonObject;
    record(previous, merged);
    return { object: this.commit(cur, this.prepare(cur, merged, ''), expected, opts), created: false };
  }

  delete(namespace: string, name: string, options: Record<string, unknown>, opts: WriteOptions): { object: StoredObject; status: 200 | 202 } {
    const cur = this.get(namespace, name);
    const pre = options.preconditions;
    if (isObject(pre)) {
      if (typeof pre.uid === 'string' && pre.uid !== '' && pre.uid !== cur.metadata.uid) {
        throw errors.conflict(this.target(name), `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${cur.metadata.uid}`);
      }
      if (typeof pre.resourceVersion === 'string' && pre.resourceVersion !== '' && pre.resourceVersion !== cur.metadata.resourceVersion) {
        throw errors.conflict(
          this.target(name),
          `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${cur.metadata.resourceVersion}`,
        );
      }
    }
    const curRv = parseResourceVersion(cur.metadata.resourceVersion, 'stored resourceVersion');
    const key = this.key(namespace, name);
    const finalizers = (cur.metadata.finalizers as string[] | undefined) ?? [];
    if (finalizers.length > 0) {
      if (cur.metadata.deletionTimestamp) return { object: cur, status: 202 };
      const next = clone(cur) as unknown as JsonObject;
      const meta = next.metadata as JsonObject;
      meta.deletionTimestamp = nowRfc3339();
      meta.deletionGracePeriodSeconds = 0;
      const out = ordered(next);
      if (opts.dryRun) return { object: out, status: 202 };
      delete out.metadata.resourceVersion;
      const r = this.store.update(key, out, curRv);
      if (!r.ok) throw this.writeFailure(r.reason, name);
      return { object: r.object, status: 202 };
    }
    if (opts.dryRun) return { object: cur, status: 200 };
    const r = this.store.delete(key, curRv);
    if (!r.ok) throw this.writeFailure(r.reason, name);
    return { object: r.object, status: 200 };
  }

  /** Objects left marked for deletion with no finalizers (a crash between the two writes). */
  sweep(): number {
    let n = 0;
    for (const o of this.store.list(this.def.plural).items) {
      const f = (o.metadata.finalizers as string[] | undefined) ?? [];
      if (o.metadata.deletionTimestamp && f.length === 0) {
        const r = this.store.delete(this.key(o.metadata.namespace ?? '', o.metadata.name), undefined);
        if (r.ok) n++;
      }
    }
    return n;
  }
}
