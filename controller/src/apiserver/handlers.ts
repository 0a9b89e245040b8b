// The resource endpoints under /apis/sandkasten.dev/v1: path parsing, verbs, query parameters,
// responses, on plain node:http (see front.ts). Write semantics live in registry.ts, streaming in
// watch.ts. Reads answer with the store's JSON text instead of re-serialising objects.

import type { ServerResponse } from 'node:http';
import type { Store, StoredObject } from '../store/types.js';
import { decodeDeleteOptions, decodeObject, decodePatch, readBody, type Body } from './body.js';
import { errors } from './errors.js';
import { logEnabled, type Logger } from './logger.js';
import { Registry, parseResourceVersion, type FieldValidation, type Subresource, type WriteOptions } from './registry.js';
import { sendJson, sendText } from './reply.js';
import type { ApiRequest } from './request.js';
import { GROUP_VERSION, type ResourceDef, type ResourceTable, type Validator } from './resources.js';
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector, pinnedName } from './selectors.js';
import { toTable, wantsTable, type IncludeObject } from './table.js';
import { serveWatch, type WatchHub, type WatchLimits } from './watch.js';

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const PREFIX = `/apis/${GROUP_VERSION}/`;

interface Target {
  def: ResourceDef;
  reg: Registry;
  /** "" for cluster-scoped kinds and for cross-namespace lists. */
  namespace: string;
  /** The path named a namespace (vs. a cross-namespace list of a namespaced kind). */
  inNamespace: boolean;
  name?: string;
  sub: Subresource;
}

export interface ResourceEndpointOptions {
  store: Store;
  table: ResourceTable;
  validator: Validator;
  hub: WatchHub;
  limits: WatchLimits;
  logger: Logger;
  /** Largest request body in bytes. */
  maxBodyBytes: number;
}

/**
 * Serves one request if its path is a resource's (or its /status): false when it is not (the
 * caller passes it on, e.g. to exec or fs routes), true when answered, a promise while a body is
 * read. Throws (or rejects with) ApiError; the caller turns it into a Status.
 */
export type ResourceEndpoints = (call: ApiRequest, res: ServerResponse) => boolean | Promise<void>;

function writeOptions(call: ApiRequest, body?: Record<string, unknown>): WriteOptions {
  const dry: unknown[] = call.params('dryRun');
  if (body && Array.isArray(body.dryRun)) dry.push(...(body.dryRun as unknown[]));
  for (const d of dry) {
    if (d !== 'All') throw errors.badRequest(`unsupported dryRun value ${JSON.stringify(d)}: the only supported value is "All"`);
  }
  const fv = call.param('fieldValidation') ?? 'Warn';
  if (fv !== 'Strict' && fv !== 'Warn' && fv !== 'Ignore') {
    throw errors.badRequest(`invalid fieldValidation ${JSON.stringify(fv)}: must be one of Strict, Warn, Ignore`);
  }
  const fieldManager = call.param('fieldManager');
  if (fieldManager !== undefined && fieldManager.length > 128) throw errors.badRequest('fieldManager is longer than 128 characters');
  return { dryRun: dry.length > 0, fieldValidation: fv as FieldValidation, fieldManager, force: call.bool('force'), warnings: [] };
}

function includeObject(call: ApiRequest): IncludeObject {
  const v = call.param('includeObject') ?? 'Metadata';
  if (v !== 'None' && v !== 'Metadata' && v !== 'Object') throw errors.badRequest(`invalid includeObject ${JSON.stringify(v)}`);
  return v;
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw errors.badRequest(`invalid path segment ${JSON.stringify(s)}: bad percent-encoding`);
  }
}

interface ContinueToken {
  v: 1;
  ns: string;
  name: string;
}

function encodeContinue(o: StoredObject): string {
  const t: ContinueToken = { v: 1, ns: o.metadata.namespace ?? '', name: o.metadata.name };
  return Buffer.from(JSON.stringify(t)).toString('base64url');
}

function decodeContinue(s: string): ContinueToken {
  try {
    const t = JSON.parse(Buffer.from(s, 'base64url').toString()) as ContinueToken;
    if (t.v === 1 && typeof t.ns === 'string' && typeof t.name === 'string') return t;
  } catch {
    // falls through
  }
  throw errors.badRequest('invalid continue token: expected the metadata.continue value of a previous list');
}

export function resourceEndpoints(o: ResourceEndpointOptions): ResourceEndpoints {
  const registries = new Map(o.table.defs.map((d) => [d.plural, new Registry(o.store, d, o.validator)]));
  const gv = (def: ResourceDef) => `${def.group}/${def.version}`;

  /** Parses the path; undefined when it is not a resource's (or its /status). */
  function parse(path: string): Target | undefined {
    if (!path.startsWith(PREFIX)) return undefined;
    const segs = path.slice(PREFIX.length).split('/').filter((s) => s !== '').map(decodeSegment);
    let namespace = '';
    let inNamespace = false;
    if (segs[0] === 'namespaces' && segs.length >= 3) {
      namespace = segs[1]!;
      inNamespace = true;
      segs.splice(0, 2);
    }
    const def = o.table.byPlural(segs[0] ?? '');
    if (!def || (inNamespace && !def.namespaced)) return undefined;
    if (inNamespace && !dns1123Label.test(namespace)) {
      throw errors.badRequest(`invalid namespace ${JSON.stringify(namespace)}: must be a DNS-1123 label`);
    }
    const [, name, sub] = segs;
    if (segs.length > 3 || (name !== undefined && def.namespaced && !inNamespace)) return undefined;
    if (sub !== undefined && !(sub === 'status' && def.hasStatus)) return undefined;
    return { def, reg: registries.get(def.plural)!, namespace, inNamespace, name, sub: sub === 'status' ? 'status' : '' };
  }

  /** The JSON text of a written object: the store's own when it holds exactly that object. */
  function stored(t: Target, obj: StoredObject): string {
    const key = t.reg.key(obj.metadata.namespace ?? '', obj.metadata.name);
    return o.store.get(key) === obj ? o.store.getRaw(key)! : JSON.stringify(obj);
  }

  const serve: ResourceEndpoints = (call, res) => {
    const t = parse(call.path);
    if (!t) return false;
    const method = call.method;
    if (method === 'GET') {
      if (t.name === undefined) list(call, res, t);
      else get(call, res, t, t.name);
      return true;
    }
    if (method !== 'POST' && method !== 'PUT' && method !== 'PATCH' && method !== 'DELETE') {
      throw errors.methodNotAllowed(method, t.sub ? `${t.def.plural}/status` : t.def.plural);
    }
    return readBody(call.req, o.maxBodyBytes).then((body) => write(call, res, t, body));
  };

  function get(call: ApiRequest, res: ServerResponse, t: Target, name: string): void {
    // kubectl get NAME asks for a Table.
    if (!t.sub && wantsTable(call.header('accept'))) {
      const obj = t.reg.get(t.namespace, name);
      sendJson(res, 200, toTable(t.def, [obj], { resourceVersion: obj.metadata.resourceVersion }, includeObject(call)));
      return;
    }
    const raw = o.store.getRaw(t.reg.key(t.namespace, name));
    if (raw === undefined) throw t.reg.notFound(name);
    sendText(res, 200, raw);
  }

  function write(call: ApiRequest, res: ServerResponse, t: Target, body: Body): void {
    const method = call.method;
    const reg = t.reg;
    if (t.name === undefined) {
      if (method === 'DELETE') return deleteCollection(call, res, t, body);
      if (method !== 'POST') throw errors.methodNotAllowed(method, t.def.plural);
      if (t.def.namespaced && !t.inNamespace) throw errors.methodNotAllowed(method, `${t.def.plural} across namespaces`);
      const opts = writeOptions(call);
      const obj = reg.create(t.namespace, decodeObject(body), opts);
      if (logEnabled(o.logger, 'debug')) {
        o.logger.debug(`create ${t.def.plural} ${t.namespace}/${obj.metadata.name} => ${obj.metadata.resourceVersion ?? 'dry-run'}`);
      }
      return sendText(res, 201, stored(t, obj), undefined, opts.warnings);
    }
    const name = t.name;
    switch (method) {
      case 'POST':
        throw errors.methodNotAllowed(method, t.sub ? `${t.def.plural}/status` : t.def.plural);
      case 'PUT': {
        const opts = writeOptions(call);
        const obj = reg.update(t.namespace, name, decodeObject(body), t.sub, opts);
        return sendText(res, 200, stored(t, obj), undefined, opts.warnings);
      }
      case 'PATCH': {
        const opts = writeOptions(call);
        const { type, patch } = decodePatch(body);
        const r = reg.patch(t.namespace, name, type, patch, t.sub, opts);
        return sendText(res, r.created ? 201 : 200, stored(t, r.object), undefined, opts.warnings);
      }
      default: {
        if (t.sub) throw errors.methodNotAllowed(method, `${t.def.plural}/status`);
        const options = decodeDeleteOptions(body);
        const opts = writeOptions(call, options);
        deleteOptionsCheck(call, options);
        const r = reg.delete(t.namespace, name, options, opts);
        return sendJson(res, r.status, r.object);
      }
    }
  }

  function deleteOptionsCheck(call: ApiRequest, body: Record<string, unknown>): void {
    const pp = call.param('propagationPolicy') ?? body.propagationPolicy;
    if (pp !== undefined && pp !== 'Orphan' && pp !== 'Background' && pp !== 'Foreground') {
      throw errors.badRequest(`invalid propagationPolicy ${JSON.stringify(pp)}: must be Orphan, Background or Foreground`);
    }
    call.int('gracePeriodSeconds');
    const g = body.gracePeriodSeconds;
    if (g !== undefined && g !== null && (typeof g !== 'number' || !Number.isInteger(g) || g < 0)) {
      throw errors.badRequest('gracePeriodSeconds must be a non-negative integer');
    }
  }

  function selected(call: ApiRequest, t: Target): { items: readonly StoredObject[]; resourceVersion: number } {
    const labels = parseLabelSelector(call.param('labelSelector'));
    const fields = parseFieldSelector(call.param('fieldSelector'), t.def.selectableFields);
    const ns = t.def.namespaced && t.inNamespace ? t.namespace : undefined;
    const name = pinnedName(fields);
    if (name !== undefined && (!t.def.namespaced || ns !== undefined)) {
      // One object named: a point read instead of a scan (kubectl watches single objects so).
      const obj = o.store.get({ resource: t.def.plural, namespace: ns ?? '', name });
      const rv = o.store.currentResourceVersion();
      const items = obj && matchesLabels(labels, obj.metadata.labels as Record<string, string>) && matchesFields(fields, obj) ? [obj] : [];
      return { items, resourceVersion: rv };
    }
    const r = o.store.list(t.def.plural, ns);
    if (labels.length === 0 && fields.length === 0) return r;
    return {
      items: r.items.filter((x) => matchesLabels(labels, x.metadata.labels as Record<string, string>) && matchesFields(fields, x)),
      resourceVersion: r.resourceVersion,
    };
  }

  function list(call: ApiRequest, res: ServerResponse, t: Target): void {
    if (call.bool('watch')) return watch(call, res, t);
    const limit = call.int('limit', 0);
    const cont = call.param('continue');
    const table = wantsTable(call.header('accept'));
    const plain = !table && !limit && !cont && !call.param('labelSelector') && !call.param('fieldSelector');
    const ns = t.def.namespaced && t.inNamespace ? t.namespace : undefined;
    if (plain) {
      // The common case joins the stored JSON texts without parsing or re-serialising them.
      const r = o.store.listRaw(t.def.plural, ns);
      const head = `{"apiVersion":"${gv(t.def)}","kind":"${t.def.listKind}","metadata":{"resourceVersion":"${r.resourceVersion}"},"items":[`;
      return sendText(res, 200, `${head}${r.items.join(',')}]}`);
    }
    const r = selected(call, t);
    let items = r.items;
    const metadata: Record<string, unknown> = { resourceVersion: String(r.resourceVersion) };
    if (cont) {
      const c = decodeContinue(cont);
      items = items.filter((x) => {
        const xns = x.metadata.namespace ?? '';
        return xns > c.ns || (xns === c.ns && x.metadata.name > c.name);
      });
    }
    if (limit && items.length > limit) {
      metadata.continue = encodeContinue(items[limit - 1]!);
      metadata.remainingItemCount = items.length - limit;
      items = items.slice(0, limit);
    }
    if (table) return sendJson(res, 200, toTable(t.def, items, metadata as never, includeObject(call)));
    sendJson(res, 200, { apiVersion: gv(t.def), kind: t.def.listKind, metadata, items });
  }

  function watch(call: ApiRequest, res: ServerResponse, t: Target): void {
    const rvParam = call.param('resourceVersion');
    const sendInitial = call.bool('sendInitialEvents');
    const bookmarks = call.bool('allowWatchBookmarks') ?? false;
    const match = call.param('resourceVersionMatch');
    if (sendInitial !== undefined) {
      if (match !== 'NotOlderThan') throw errors.badRequest('sendInitialEvents requires resourceVersionMatch=NotOlderThan');
      if (sendInitial && !bookmarks) throw errors.badRequest('sendInitialEvents=true requires allowWatchBookmarks=true');
    } else if (match !== undefined && match !== '') {
      throw errors.badRequest('resourceVersionMatch is only supported together with sendInitialEvents for watch');
    }
    const since = rvParam === undefined || rvParam === '' || rvParam === '0' ? undefined : parseResourceVersion(rvParam);
    const timeoutSeconds = call.int('timeoutSeconds', 0);
    serveWatch(
      call,
      res,
      o.store,
      {
        def: t.def,
        namespace: t.def.namespaced && t.inNamespace ? t.namespace : undefined,
        sinceResourceVersion: since,
        // Unset resourceVersion means "current state first", unless sendInitialEvents=false.
        sendInitialEvents: since === undefined ? sendInitial !== false : sendInitial === true,
        initialEventsEnd: sendInitial === true,
        labels: parseLabelSelector(call.param('labelSelector')),
        fields: parseFieldSelector(call.param('fieldSelector'), t.def.selectableFields),
        bookmarks,
        timeoutMs: timeoutSeconds ? timeoutSeconds * 1000 : undefined,
        table: wantsTable(call.header('accept')) ? includeObject(call) : undefined,
      },
      o.hub,
      o.limits,
      o.logger,
    );
  }

  function deleteCollection(call: ApiRequest, res: ServerResponse, t: Target, body: Body): void {
    const options = decodeDeleteOptions(body);
    const opts = writeOptions(call, options);
    deleteOptionsCheck(call, options);
    const { items } = selected(call, t);
    const deleted: StoredObject[] = [];
    for (const x of items) {
      try {
        deleted.push(t.reg.delete(x.metadata.namespace ?? '', x.metadata.name, options, opts).object);
      } catch (e) {
        // Gone meanwhile (another request deleted it): nothing left to do for it.
        if (!(e instanceof Error && 'status' in e && (e as { status: number }).status === 404)) throw e;
      }
    }
    sendJson(res, 200, {
      apiVersion: gv(t.def),
      kind: t.def.listKind,
      metadata: { resourceVersion: String(o.store.currentResourceVersion()) },
      items: deleted,
    });
  }

  return serve;
}
