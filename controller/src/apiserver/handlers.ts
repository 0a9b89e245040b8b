// The resource endpoints under /apis/sandkasten.dev/v1: path parsing, verbs, query parameters,
// responses. Write semantics live in registry.ts, streaming in watch.ts.

import type { NextFunction, Request, Response, Router } from 'express';
import express from 'express';
import type { Store, StoredObject } from '../store/types.js';
import { decodeDeleteOptions, decodeObject, decodePatch } from './body.js';
import { errors } from './errors.js';
import type { Logger } from './logger.js';
import { Registry, parseResourceVersion, type FieldValidation, type Subresource, type WriteOptions } from './registry.js';
import type { ResourceDef, ResourceTable, Validator } from './resources.js';
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector, pinnedName } from './selectors.js';
import { toTable, wantsTable, type IncludeObject } from './table.js';
import { serveWatch, type WatchHub, type WatchLimits } from './watch.js';

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

interface Target {
  def: ResourceDef;
  /** "" for cluster-scoped kinds and for cross-namespace lists. */
  namespace: string;
  /** The path named a namespace (vs. a cross-namespace list of a namespaced kind). */
  inNamespace: boolean;
  name?: string;
  sub?: string;
}

export interface ResourceRouterOptions {
  store: Store;
  table: ResourceTable;
  validator: Validator;
  hub: WatchHub;
  limits: WatchLimits;
  logger: Logger;
}

function query(req: Request, name: string): string | undefined {
  const v = req.query[name];
  if (v === undefined) return undefined;
  if (Array.isArray(v)) {
    const last = v[v.length - 1];
    return typeof last === 'string' ? last : undefined;
  }
  return typeof v === 'string' ? v : undefined;
}

function boolParam(req: Request, name: string): boolean | undefined {
  const v = query(req, name);
  if (v === undefined) return undefined;
  if (v === '1' || v === 'true') return true;
  if (v === '0' || v === 'false' || v === '') return false;
  throw errors.badRequest(`invalid value for ${name}: ${JSON.stringify(v)} (expected true or false)`);
}

function intParam(req: Request, name: string, min = 0): number | undefined {
  const v = query(req, name);
  if (v === undefined || v === '') return undefined;
  if (!/^-?\d+$/.test(v) || Number(v) < min) throw errors.badRequest(`invalid value for ${name}: ${JSON.stringify(v)} (expected an integer >= ${min})`);
  return Number(v);
}

function writeOptions(req: Request, body?: Record<string, unknown>): WriteOptions {
  const q = req.query.dryRun;
  const dry: unknown[] = Array.isArray(q) ? [...q] : q !== undefined ? [q] : [];
  if (body && Array.isArray(body.dryRun)) dry.push(...(body.dryRun as unknown[]));
  for (const d of dry) {
    if (d !== 'All') throw errors.badRequest(`unsupported dryRun value ${JSON.stringify(d)}: the only supported value is "All"`);
  }
  const fv = query(req, 'fieldValidation') ?? 'Warn';
  if (fv !== 'Strict' && fv !== 'Warn' && fv !== 'Ignore') {
    throw errors.badRequest(`invalid fieldValidation ${JSON.stringify(fv)}: must be one of Strict, Warn, Ignore`);
  }
  const fieldManager = query(req, 'fieldManager');
  if (fieldManager !== undefined && fieldManager.length > 128) throw errors.badRequest('fieldManager is longer than 128 characters');
  return { dryRun: dry.length > 0, fieldValidation: fv as FieldValidation, fieldManager, force: boolParam(req, 'force'), warnings: [] };
}

function sendObject(req: Request, res: Response, status: number, obj: unknown, warnings: string[] = []): void {
  for (const w of warnings) res.append('Warning', `299 - ${JSON.stringify(w)}`);
  res.status(status).type('application/json').send(JSON.stringify(obj));
  void req;
}

function includeObject(req: Request): IncludeObject {
  const v = query(req, 'includeObject') ?? 'Metadata';
  if (v !== 'None' && v !== 'Metadata' && v !== 'Object') throw errors.badRequest(`invalid includeObject ${JSON.stringify(v)}`);
  return v;
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

export function resourceRouter(o: ResourceRouterOptions): Router {
  const router = express.Router();
  const registries = new Map(o.table.defs.map((d) => [d.plural, new Registry(o.store, d, o.validator)]));

  /** Parses the path under /apis/sandkasten.dev/v1; undefined when it is not ours (e.g. exec). */
  function parse(path: string): Target | undefined {
    const segs = path.split('/').filter((s) => s !== '').map((s) => decodeURIComponent(s));
    let namespace = '';
    let inNamespace = false;
    if (segs[0] === 'namespaces' && segs.length >= 3) {
      namespace = segs[1]!;
      inNamespace = true;
      segs.splice(0, 2);
    }
    const def = o.table.byPlural(segs[0] ?? '');
    if (!def) return undefined;
    if (inNamespace && !def.namespaced) return undefined;
    if (inNamespace && !dns1123Label.test(namespace)) {
      throw errors.badRequest(`invalid namespace ${JSON.stringify(namespace)}: must be a DNS-1123 label`);
    }
    if (segs.length > 3) return undefined;
    const t: Target = { def, namespace, inNamespace, name: segs[1], sub: segs[2] };
    if (t.name !== undefined && def.namespaced && !inNamespace) return undefined;
    return t;
  }

  router.use((req: Request, res: Response, next: NextFunction) => {
    const t = parse(req.path);
    if (!t) return next();
    if (t.sub !== undefined && !(t.sub === 'status' && t.def.hasStatus)) return next();
    const reg = registries.get(t.def.plural)!;
    const method = req.method;
    if (t.name === undefined) {
      if (method === 'GET') return list(req, res, t);
      if (method === 'POST') {
        if (t.def.namespaced && !t.inNamespace) throw errors.methodNotAllowed(method, `${t.def.plural} across namespaces`);
        const opts = writeOptions(req);
        const obj = reg.create(t.namespace, decodeObject(req), opts);
        o.logger.debug(`create ${t.def.plural} ${t.namespace}/${obj.metadata.name} => ${obj.metadata.resourceVersion ?? 'dry-run'}`);
        return sendObject(req, res, 201, obj, opts.warnings);
      }
      if (method === 'DELETE') return deleteCollection(req, res, t);
      throw errors.methodNotAllowed(method, t.def.plural);
    }
    const sub: Subresource = t.sub === 'status' ? 'status' : '';
    switch (method) {
      case 'GET': {
        const obj = reg.get(t.namespace, t.name);
        // kubectl get NAME asks for a Table too.
        if (!sub && wantsTable(req.headers.accept)) {
          return sendObject(req, res, 200, toTable(t.def, [obj], { resourceVersion: obj.metadata.resourceVersion }, includeObject(req)));
        }
        return sendObject(req, res, 200, obj);
      }
      case 'PUT': {
        const opts = writeOptions(req);
        const obj = reg.update(t.namespace, t.name, decodeObject(req), sub, opts);
        return sendObject(req, res, 200, obj, opts.warnings);
      }
      case 'PATCH': {
        const opts = writeOptions(req);
        const { type, patch } = decodePatch(req);
        const r = reg.patch(t.namespace, t.name, type, patch, sub, opts);
        return sendObject(req, res, r.created ? 201 : 200, r.object, opts.warnings);
      }
      case 'DELETE': {
        if (sub) throw errors.methodNotAllowed(method, `${t.def.plural}/status`);
        const body = decodeDeleteOptions(req);
        const opts = writeOptions(req, body);
        deleteOptionsCheck(req, body);
        const r = reg.delete(t.namespace, t.name, body, opts);
        return sendObject(req, res, r.status, r.object);
      }
      default:
        throw errors.methodNotAllowed(method, sub ? `${t.def.plural}/status` : t.def.plural);
    }
  });

  function deleteOptionsCheck(req: Request, body: Record<string, unknown>): void {
    const pp = query(req, 'propagationPolicy') ?? body.propagationPolicy;
    if (pp !== undefined && pp !== 'Orphan' && pp !== 'Background' && pp !== 'Foreground') {
      throw errors.badRequest(`invalid propagationPolicy ${JSON.stringify(pp)}: must be Orphan, Background or Foreground`);
    }
    intParam(req, 'gracePeriodSeconds');
    const g = body.gracePeriodSeconds;
    if (g !== undefined && g !== null && (typeof g !== 'number' || !Number.isInteger(g) || g < 0)) {
      throw errors.badRequest('gracePeriodSeconds must be a non-negative integer');
    }
  }

  function selected(req: Request, t: Target): { items: readonly StoredObject[]; resourceVersion: number } {
    const labels = parseLabelSelector(query(req, 'labelSelector'));
    const fields = parseFieldSelector(query(req, 'fieldSelector'));
    const ns = t.def.namespaced && t.inNamespace ? t.namespace : undefined;
    const name = pinnedName(fields);
    if (name !== undefined && (!t.def.namespaced || ns !== undefined)) {
      // One object named: a point read instead of a scan (kubectl watches single objects so).
      const obj = o.store.get({ resource: t.def.plural, namespace: ns ?? '', name });
      const rv = o.store.currentResourceVersion();
      const items = obj && matchesLabels(labels, obj.metadata.labels as Record<string, string>) && matchesFields(fields, obj.metadata) ? [obj] : [];
      return { items, resourceVersion: rv };
    }
    const r = o.store.list(t.def.plural, ns);
    if (labels.length === 0 && fields.length === 0) return r;
    return {
      items: r.items.filter((x) => matchesLabels(labels, x.metadata.labels as Record<string, string>) && matchesFields(fields, x.metadata)),
      resourceVersion: r.resourceVersion,
    };
  }

  function list(req: Request, res: Response, t: Target): void {
    if (boolParam(req, 'watch')) return watch(req, res, t);
    const limit = intParam(req, 'limit', 0);
    const cont = query(req, 'continue');
    const table = wantsTable(req.headers.accept);
    const plain = !table && !limit && !cont && !query(req, 'labelSelector') && !query(req, 'fieldSelector');
    const ns = t.def.namespaced && t.inNamespace ? t.namespace : undefined;
    if (plain) {
      // The common case joins the stored JSON texts without parsing or re-serialising them.
      const r = o.store.listRaw(t.def.plural, ns);
      const head = `{"apiVersion":"${t.def.group}/${t.def.version}","kind":"${t.def.listKind}","metadata":{"resourceVersion":"${r.resourceVersion}"},"items":[`;
      res.status(200).type('application/json').send(`${head}${r.items.join(',')}]}`);
      return;
    }
    const r = selected(req, t);
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
    if (table) {
      return sendObject(req, res, 200, toTable(t.def, items, metadata as never, includeObject(req)));
    }
    sendObject(req, res, 200, { apiVersion: `${t.def.group}/${t.def.version}`, kind: t.def.listKind, metadata, items });
  }

  function watch(req: Request, res: Response, t: Target): void {
    const rvParam = query(req, 'resourceVersion');
    const sendInitial = boolParam(req, 'sendInitialEvents');
    const bookmarks = boolParam(req, 'allowWatchBookmarks') ?? false;
    const match = query(req, 'resourceVersionMatch');
    if (sendInitial !== undefined) {
      if (match !== 'NotOlderThan') throw errors.badRequest('sendInitialEvents requires resourceVersionMatch=NotOlderThan');
      if (sendInitial && !bookmarks) throw errors.badRequest('sendInitialEvents=true requires allowWatchBookmarks=true');
    } else if (match !== undefined && match !== '') {
      throw errors.badRequest('resourceVersionMatch is only supported together with sendInitialEvents for watch');
    }
    const since = rvParam === undefined || rvParam === '' || rvParam === '0' ? undefined : parseResourceVersion(rvParam);
    const timeoutSeconds = intParam(req, 'timeoutSeconds', 0);
    serveWatch(
      req,
      res,
      o.store,
      {
        def: t.def,
        namespace: t.def.namespaced && t.inNamespace ? t.namespace : undefined,
        sinceResourceVersion: since,
        // Unset resourceVersion means "current state first", unless sendInitialEvents=false.
        sendInitialEvents: since === undefined ? sendInitial !== false : sendInitial === true,
        initialEventsEnd: sendInitial === true,
        labels: parseLabelSelector(query(req, 'labelSelector')),
        fields: parseFieldSelector(query(req, 'fieldSelector')),
        bookmarks,
        timeoutMs: timeoutSeconds ? timeoutSeconds * 1000 : undefined,
        table: wantsTable(req.headers.accept) ? includeObject(req) : undefined,
      },
      o.hub,
      o.limits,
      o.logger,
    );
  }

  function deleteCollection(req: Request, res: Response, t: Target): void {
    const body = decodeDeleteOptions(req);
    const opts = writeOptions(req, body);
    deleteOptionsCheck(req, body);
    const reg = registries.get(t.def.plural)!;
    const { items } = selected(req, t);
    const deleted: StoredObject[] = [];
    for (const x of items) {
      try {
        deleted.push(reg.delete(x.metadata.namespace ?? '', x.metadata.name, body, opts).object);
      } catch (e) {
        // Gone meanwhile (another request deleted it): nothing left to do for it.
        if (!(e instanceof Error && 'status' in e && (e as { status: number }).status === 404)) throw e;
      }
    }
    sendObject(req, res, 200, {
      apiVersion: `${t.def.group}/${t.def.version}`,
      kind: t.def.listKind,
      metadata: { resourceVersion: String(o.store.currentResourceVersion()) },
      items: deleted,
    });
  }

  return router;
}
