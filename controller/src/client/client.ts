// The in-process API client: the resource API's verbs as typed calls, through the API server's own
// write path (Registry), so defaults, validation, server-owned metadata, generation, resourceVersion
// conflicts, finalizers and watch notifications are exactly what the same HTTP request would give —
// without HTTP, credentials or serialising. Controllers inside the daemon use it.
//
// Results are private copies (the store hands out frozen, shared objects): callers may change them
// and send them back.

import type { Event, Image, Session, Workspace } from '@sandkasten/api-schemas';
import { ApiError } from '../apiserver/errors.js';
import { Registry, type FieldValidation, type WriteOptions } from '../apiserver/registry.js';
import { defaultResourceTable, schemaValidator, type ResourceDef } from '../apiserver/resources.js';
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from '../apiserver/selectors.js';
import type { Store, StoredObject } from '../store/types.js';
import { toClientError, ConflictError, NotFoundError } from './errors.js';

/** The objects of each resource, by plural. */
export interface ResourceTypes {
  sessions: Session;
  workspaces: Workspace;
  images: Image;
  events: Event;
}
export type ResourceName = keyof ResourceTypes;

export interface ListOptions {
  /** Kubernetes label selector syntax ("app=x,tier!=db"). */
  labelSelector?: string;
  /** Kubernetes field selector syntax ("metadata.name=x"). */
  fieldSelector?: string;
}

export interface ListResult<T> {
  items: T[];
  /** The store's revision at the time of the list. */
  resourceVersion: string;
}

export interface ClientOptions {
  /**
   * How unknown fields in written objects are treated. Default Strict: inside the daemon an unknown
   * field is a bug in the caller, not something to drop quietly.
   */
  fieldValidation?: FieldValidation;
  /** Field manager named on writes (recorded for apply). */
  fieldManager?: string;
}

export interface WriteCallOptions {
  dryRun?: boolean;
}

export interface DeleteOptions extends WriteCallOptions {
  preconditions?: { uid?: string; resourceVersion?: string };
}

export type PatchType = 'merge' | 'json';

/** How many times the finalizer helpers and retryOnConflict re-read and retry a conflicting write. */
const CONFLICT_RETRIES = 10;

/** Runs fn until it does not fail with a ConflictError (at most `retries` more times). */
export async function retryOnConflict<T>(fn: () => Promise<T>, retries = CONFLICT_RETRIES): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof ConflictError) || attempt >= retries) throw e;
    }
  }
}

const copy = <T>(o: StoredObject): T => structuredClone(o) as unknown as T;

export class Client {
  private readonly registries = new Map<string, Registry>();
  private readonly fieldValidation: FieldValidation;
  private readonly fieldManager: string | undefined;

  constructor(
    readonly store: Store,
    options: ClientOptions = {},
  ) {
    const table = defaultResourceTable();
    for (const def of table.defs) this.registries.set(def.plural, new Registry(store, def, schemaValidator));
    this.fieldValidation = options.fieldValidation ?? 'Strict';
    this.fieldManager = options.fieldManager;
  }

  private reg(resource: ResourceName): Registry {
    const r = this.registries.get(resource);
    if (!r) throw new Error(`unknown resource ${JSON.stringify(resource)}`);
    return r;
  }

  /** The resource's definition (kind, namespaced, group...). */
  definition(resource: ResourceName): ResourceDef {
    return this.reg(resource).def;
  }

  private opts(o: WriteCallOptions = {}): WriteOptions {
    return { dryRun: o.dryRun ?? false, fieldValidation: this.fieldValidation, fieldManager: this.fieldManager, warnings: [] };
  }

  /** Runs a registry call, turning its ApiErrors into the client's typed errors. */
  private call<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof ApiError) throw toClientError(e);
      throw e;
    }
  }

  /** The object; NotFoundError when absent. */
  async get<R extends ResourceName>(resource: R, namespace: string, name: string): Promise<ResourceTypes[R]> {
    return copy(this.call(() => this.reg(resource).get(namespace, name)));
  }

  /** The object, or undefined when absent. */
  async tryGet<R extends ResourceName>(resource: R, namespace: string, name: string): Promise<ResourceTypes[R] | undefined> {
    const reg = this.reg(resource);
    const o = this.store.get(reg.key(namespace, name));
    return o ? copy(o) : undefined;
  }

  /** Objects of one namespace, or of all (namespace undefined), in (namespace, name) order. */
  async list<R extends ResourceName>(resource: R, namespace?: string, options: ListOptions = {}): Promise<ListResult<ResourceTypes[R]>> {
    const reg = this.reg(resource);
    const { labels, fields } = this.call(() => ({
      labels: parseLabelSelector(options.labelSelector),
      fields: parseFieldSelector(options.fieldSelector, reg.def.selectableFields),
    }));
    const r = this.store.list(reg.def.plural, reg.def.namespaced ? namespace : undefined);
    const items = r.items.filter(
      (x) =>
        (labels.length === 0 || matchesLabels(labels, x.metadata.labels as Record<string, string> | undefined)) &&
        (fields.length === 0 || matchesFields(fields, x)),
    );
    return { items: items.map((x) => copy<ResourceTypes[R]>(x)), resourceVersion: String(r.resourceVersion) };
  }

  /** POST: AlreadyExistsError when the name is taken, InvalidError for a bad object. */
  async create<R extends ResourceName>(resource: R, namespace: string, obj: ResourceTypes[R], o?: WriteCallOptions): Promise<ResourceTypes[R]> {
    return copy(this.call(() => this.reg(resource).create(namespace, obj, this.opts(o))));
  }

  /**
   * PUT: replaces spec, metadata (status is kept). With metadata.resourceVersion set, ConflictError
   * unless it is current.
   */
  async update<R extends ResourceName>(resource: R, obj: ResourceTypes[R], o?: WriteCallOptions): Promise<ResourceTypes[R]> {
    const { namespace, name } = this.ident(obj);
    return copy(this.call(() => this.reg(resource).update(namespace, name, obj, '', this.opts(o))));
  }

  /** PUT …/status: replaces status only. ConflictError on a stale metadata.resourceVersion. */
  async updateStatus<R extends ResourceName>(resource: R, obj: ResourceTypes[R], o?: WriteCallOptions): Promise<ResourceTypes[R]> {
    const { namespace, name } = this.ident(obj);
    return copy(this.call(() => this.reg(resource).update(namespace, name, obj, 'status', this.opts(o))));
  }

  /** PATCH with an RFC 7386 merge patch (or an RFC 6902 JSON patch). */
  async patch<R extends ResourceName>(
    resource: R,
    namespace: string,
    name: string,
    patch: unknown,
    o: WriteCallOptions & { type?: PatchType } = {},
  ): Promise<ResourceTypes[R]> {
    return copy(this.call(() => this.reg(resource).patch(namespace, name, o.type ?? 'merge', patch, '', this.opts(o)).object));
  }

  /** PATCH …/status. */
  async patchStatus<R extends ResourceName>(
    resource: R,
    namespace: string,
    name: string,
    patch: unknown,
    o: WriteCallOptions & { type?: PatchType } = {},
  ): Promise<ResourceTypes[R]> {
    return copy(this.call(() => this.reg(resource).patch(namespace, name, o.type ?? 'merge', patch, 'status', this.opts(o)).object));
  }

  /**
   * DELETE: the object as deleted (`deleted: true`), or — when finalizers hold it — the object
   * marked with deletionTimestamp (`deleted: false`). NotFoundError when absent.
   */
  async delete<R extends ResourceName>(
    resource: R,
    namespace: string,
    name: string,
    o: DeleteOptions = {},
  ): Promise<{ object: ResourceTypes[R]; deleted: boolean }> {
    const options: Record<string, unknown> = o.preconditions ? { preconditions: o.preconditions } : {};
    const r = this.call(() => this.reg(resource).delete(namespace, name, options, this.opts(o)));
    return { object: copy(r.object), deleted: r.status === 200 };
  }

  /**
   * Adds a finalizer (re-reading on conflicts). Returns the object as stored. NotFoundError when
   * absent; InvalidError when its deletion has begun (no new finalizers then).
   */
  async addFinalizer<R extends ResourceName>(resource: R, namespace: string, name: string, finalizer: string): Promise<ResourceTypes[R]> {
    return retryOnConflict(async () => {
      const cur = await this.get(resource, namespace, name);
      const list = cur.metadata.finalizers ?? [];
      if (list.includes(finalizer)) return cur;
      cur.metadata.finalizers = [...list, finalizer];
      return this.update(resource, cur);
    });
  }

  /**
   * Removes a finalizer (re-reading on conflicts). Returns the object after the write, or undefined
   * when it is gone (absent, or deleted because this was its last finalizer during deletion).
   */
  async removeFinalizer<R extends ResourceName>(
    resource: R,
    namespace: string,
    name: string,
    finalizer: string,
  ): Promise<ResourceTypes[R] | undefined> {
    return retryOnConflict(async () => {
      const cur = await this.tryGet(resource, namespace, name);
      if (!cur) return undefined;
      const list = cur.metadata.finalizers ?? [];
      if (!list.includes(finalizer)) return cur;
      const rest = list.filter((f) => f !== finalizer);
      if (rest.length > 0) cur.metadata.finalizers = rest;
      else delete cur.metadata.finalizers;
      try {
        const out = await this.update(resource, cur);
        return cur.metadata.deletionTimestamp && rest.length === 0 ? undefined : out;
      } catch (e) {
        if (e instanceof NotFoundError) return undefined;
        throw e;
      }
    });
  }

  private ident(obj: { metadata?: { name?: string; namespace?: string } }): { namespace: string; name: string } {
    const name = obj?.metadata?.name;
    if (typeof name !== 'string' || name === '') throw new TypeError('the object has no metadata.name');
    return { namespace: obj.metadata?.namespace ?? '', name };
  }
}
