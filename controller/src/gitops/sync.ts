// One sync of a scanned directory against the API: every manifest of a whole file is applied
// (server-side apply, field manager "gitops", the applyset label and source annotation added),
// then objects of this applyset whose manifests are gone are pruned (or reported as orphaned).
//
// It runs synchronously on the API server's own write path (Registry, as the in-process client
// and the event sink do): defaults, validation, generation and watch notifications are those of
// `skctl apply`'s PATCH, and no API request interleaves with a sync.
//
// Safety rules, in order of importance:
//   - a file with any error applies nothing (each of its documents is first applied as a dry
//     run), so its objects keep their last good state; those objects are never pruned;
//   - while some file's content is unknown (unreadable, not YAML), objects whose file is gone are
//     not pruned either: they may have moved into that file;
//   - only objects carrying this directory's applyset label AND applied by the "gitops" field
//     manager are pruned — never objects other clients made.

import { ApiError } from '../apiserver/errors.js';
import { deepEqual } from '../apiserver/merge.js';
import { LAST_APPLIED, type Registry, type WriteOptions } from '../apiserver/registry.js';
import type { Validator } from '../apiserver/resources.js';
import type { Store, StoredObject } from '../store/types.js';
import { APPLYSET_LABEL, FIELD_MANAGER, SOURCE_ANNOTATION } from './names.js';
import { MANAGED_KINDS, objectKey, type JsonObject, type Manifest, type ManifestError, type ScanResult } from './scan.js';

export interface SyncContext {
  store: Store;
  /** A Registry per managed kind, by kind ("Session"). */
  registries: ReadonlyMap<string, Registry>;
  validator: Validator;
  /** This directory's applyset label value. */
  applySet: string;
  prune: boolean;
}

export interface ObjectRef {
  kind: string;
  namespace?: string;
  name: string;
  /** The file it was last applied from. */
  file?: string;
}

export interface SyncResult {
  /** Objects the valid manifests declare. */
  objects: number;
  /** Created or changed. */
  applied: number;
  unchanged: number;
  pruned: number;
  /** Documents (or files, when no document is known) with errors. */
  failed: number;
  /** Gone from the directory, kept because prune is off. */
  orphaned: number;
  /** Gone from the directory (or in a broken file), kept because of errors or an empty directory. */
  held: number;
  /** The directory declares no object at all (and has no errors): nothing was pruned. */
  emptyDirectory: boolean;
  errors: ManifestError[];
  orphans: ObjectRef[];
  /** "Session default/dev created", … — what changed, for the log. */
  changes: string[];
}

/** Images first, then Workspaces, then Sessions: what a Session needs exists before it. */
const KIND_ORDER = ['Image', 'Workspace', 'Session'];
const rank = (kind: string) => {
  const i = KIND_ORDER.indexOf(kind);
  return i < 0 ? KIND_ORDER.length : i;
};

function isObject(v: unknown): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

const describe = (kind: string, namespace: string, name: string) => `${kind} ${namespace ? `${namespace}/` : ''}${name}`;

/** The apply configuration of a manifest: the object with the applyset label and source annotation. */
function applyConfig(m: Manifest, applySet: string): JsonObject {
  const cfg = structuredClone(m.object);
  const meta = cfg.metadata as JsonObject;
  // A non-object labels/annotations value is left alone for validation to report.
  if (meta.labels === undefined || isObject(meta.labels)) meta.labels = { ...(meta.labels as JsonObject | undefined), [APPLYSET_LABEL]: applySet };
  if (meta.annotations === undefined || isObject(meta.annotations)) {
    meta.annotations = { ...(meta.annotations as JsonObject | undefined), [SOURCE_ANNOTATION]: m.file };
  }
  return cfg;
}

/** An API error as manifest errors, field paths prefixed for items of a List. */
function apiErrors(m: Manifest, e: unknown): ManifestError[] {
  const base = { file: m.file, document: m.document };
  const prefix = (field: string | undefined) => (field || m.fieldPrefix ? { field: `${m.fieldPrefix}${field ?? ''}`.replace(/\.$/, '') } : {});
  if (e instanceof ApiError) {
    const causes = e.details?.causes ?? [];
    if (causes.length > 0) return causes.map((c) => ({ ...base, ...prefix(c.field), message: c.message }));
    return [{ ...base, ...prefix(undefined), message: e.message }];
  }
  return [{ ...base, ...prefix(undefined), message: `internal error: ${(e as Error)?.message ?? String(e)}` }];
}

function writeOptions(dryRun: boolean): WriteOptions {
  // Strict: a misspelt field is an error to fix, not something to drop quietly.
  return { dryRun, fieldValidation: 'Strict', fieldManager: FIELD_MANAGER, force: true, warnings: [] };
}

/**
 * Checks a manifest without writing: unknown fields (with their paths), then a dry-run apply.
 * Returns the errors, or the object the apply would store.
 */
function check(ctx: SyncContext, m: Manifest, cfg: JsonObject): { errors: ManifestError[]; would?: StoredObject } {
  const kind = m.info.kind;
  const { unknownFields } = ctx.validator.validateObject(kind, ctx.validator.applyDefaults(kind, cfg));
  if (unknownFields.length > 0) {
    return { errors: unknownFields.map((f) => ({ file: m.file, document: m.document, field: `${m.fieldPrefix}${f}`, message: `unknown field "${f}"` })) };
  }
  try {
    return { errors: [], would: ctx.registries.get(kind)!.patch(m.namespace, m.name, 'apply', cfg, '', writeOptions(true)).object };
  } catch (e) {
    return { errors: apiErrors(m, e) };
  }
}

/** Did the "gitops" field manager apply this object (rather than someone merely copying the label)? */
function appliedByGitOps(obj: StoredObject): boolean {
  const raw = (obj.metadata.annotations as Record<string, string> | undefined)?.[LAST_APPLIED];
  if (!raw) return false;
  try {
    const p = JSON.parse(raw) as unknown;
    return isObject(p) && Object.hasOwn(p, FIELD_MANAGER);
  } catch {
    return false;
  }
}

/** Applies the scanned directory and prunes what it no longer declares. */
export function applyAndPrune(ctx: SyncContext, scan: ScanResult): SyncResult {
  const r: SyncResult = { objects: 0, applied: 0, unchanged: 0, pruned: 0, failed: 0, orphaned: 0, held: 0, emptyDirectory: false, errors: [...scan.errors], orphans: [], changes: [] };
  const broken = new Set(scan.broken);
  const heldKeys = new Set(scan.heldKeys);

  // 1. Dry runs: a file applies only when every one of its objects would be accepted.
  const byFile = new Map<string, { m: Manifest; cfg: JsonObject }[]>();
  for (const m of scan.manifests) {
    const list = byFile.get(m.file) ?? [];
    list.push({ m, cfg: applyConfig(m, ctx.applySet) });
    byFile.set(m.file, list);
  }
  const toApply: { m: Manifest; cfg: JsonObject; would: StoredObject }[] = [];
  for (const [file, list] of byFile) {
    const checked = list.map((x) => ({ ...x, ...check(ctx, x.m, x.cfg) }));
    const errs = checked.flatMap((x) => x.errors);
    if (errs.length > 0) {
      r.errors.push(...errs);
      broken.add(file);
      for (const { m } of list) heldKeys.add(objectKey(m.info.kind, m.namespace, m.name));
    } else for (const x of checked) toApply.push({ m: x.m, cfg: x.cfg, would: x.would! });
  }

  // 2. Apply, dependencies first.
  toApply.sort((a, b) => rank(a.m.info.kind) - rank(b.m.info.kind));
  const desired = new Set<string>();
  for (const { m, cfg, would } of toApply) {
    const reg = ctx.registries.get(m.info.kind)!;
    const key = objectKey(m.info.kind, m.namespace, m.name);
    desired.add(key);
    const before = ctx.store.get(reg.key(m.namespace, m.name));
    // The dry run found nothing to change (nothing can have written since: this is synchronous).
    if (before && deepEqual(would, before)) {
      r.unchanged++;
      continue;
    }
    try {
      const { object, created } = reg.patch(m.namespace, m.name, 'apply', cfg, '', writeOptions(false));
      if (created || !before) {
        r.applied++;
        r.changes.push(`${describe(m.info.kind, m.namespace, m.name)} created`);
      } else if (object.metadata.resourceVersion !== before.metadata.resourceVersion) {
        r.applied++;
        r.changes.push(`${describe(m.info.kind, m.namespace, m.name)} configured`);
      } else r.unchanged++;
    } catch (e) {
      // Accepted by the dry run, refused now (changed meanwhile): kept as it is, like a broken file.
      r.errors.push(...apiErrors(m, e));
      broken.add(m.file);
      heldKeys.add(key);
    }
  }
  r.objects = desired.size;

  // 3. Prune (or report) what this applyset applied and the directory no longer declares. A
  // directory that declares nothing prunes nothing (as Argo CD's allowEmpty=false): an unmounted
  // volume or a botched checkout looks exactly like that.
  const present = new Set(scan.files);
  r.emptyDirectory = desired.size === 0 && broken.size === 0;
  for (const info of MANAGED_KINDS) {
    const reg = ctx.registries.get(info.kind)!;
    for (const obj of ctx.store.list(info.plural).items) {
      const labels = obj.metadata.labels as Record<string, string> | undefined;
      if (labels?.[APPLYSET_LABEL] !== ctx.applySet || !appliedByGitOps(obj)) continue;
      const ns = obj.metadata.namespace ?? '';
      const key = objectKey(info.kind, ns, obj.metadata.name);
      if (desired.has(key) || obj.metadata.deletionTimestamp) continue;
      const source = (obj.metadata.annotations as Record<string, string> | undefined)?.[SOURCE_ANNOTATION];
      const held =
        r.emptyDirectory ||
        heldKeys.has(key) ||
        (source !== undefined && broken.has(source)) ||
        (scan.unknown.size > 0 && (source === undefined || !present.has(source)));
      if (held) {
        r.held++;
        continue;
      }
      const ref: ObjectRef = { kind: info.kind, ...(ns ? { namespace: ns } : {}), name: obj.metadata.name, ...(source ? { file: source } : {}) };
      if (!ctx.prune) {
        r.orphaned++;
        r.orphans.push(ref);
        continue;
      }
      try {
        reg.delete(ns, obj.metadata.name, { preconditions: { uid: obj.metadata.uid } }, writeOptions(false));
        r.pruned++;
        r.changes.push(`${describe(info.kind, ns, obj.metadata.name)} pruned`);
      } catch (e) {
        r.errors.push({ file: source ?? '', message: `cannot prune ${describe(info.kind, ns, obj.metadata.name)}: ${(e as Error).message}` });
      }
    }
  }
  r.failed = new Set(r.errors.map((e) => `${e.file}\u0000${e.document ?? ''}`)).size;
  return r;
}
