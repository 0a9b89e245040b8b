// POST/GET /v1/sessions, GET/DELETE /v1/sessions/{id}: the original's sessions as Sessions in the
// `default` namespace, the id being the Session's name. A create validates the image first, makes
// the Workspace the session mounts, creates the Session and waits (watching, bounded) until it is
// Ready or has failed; a session that cannot start is removed again and the caller told why.

import { randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import { sessionWorkspaceMount, type Condition, type Session } from '@sandkasten/api-schemas';
import { sendJson } from '../apiserver/reply.js';
import { isAlreadyExists, isNotFound } from '../client/index.js';
import { ensureDefaultWorkspace, ensureWorkspace } from '../controllers/workspace.js';
import { sessionDeadline } from '../controllers/reaper.js';
import { ImageMetaError, readImageMeta } from '../images/index.js';
import { RunnerError } from '../runner/index.js';
import type { StoredObject } from '../store/types.js';
import { checkSessionId, checkWorkspaceId, optInt, optString, readJsonObject } from './body.js';
import { expired, seedStatus, V1_NAMESPACE, type FacadeContext } from './context.js';
import { ErrorCode, SeedError } from './errors.js';
import { waitForObject } from './wait.js';

/** Sessions made through /v1 carry this label. */
export const V1_LABEL = 'sandkasten.dev/api';
const DEFAULT_CWD = '/workspace';

/** The original's session info. */
export interface SessionInfo {
  id: string;
  image: string;
  status: string;
  cwd: string;
  workspace_id?: string;
  created_at: string;
  expires_at: string;
}

export function sessionInfo(ctx: FacadeContext, s: Session): SessionInfo {
  const uid = s.metadata.uid ?? '';
  const ws = sessionWorkspaceMount(s.spec);
  const info: SessionInfo = {
    id: s.metadata.name ?? '',
    image: s.spec?.image || ctx.config.default_image,
    status: seedStatus(s),
    cwd: ctx.cwds.get(uid) ?? (s.spec?.workingDir || ws?.mountPath || DEFAULT_CWD),
    created_at: s.metadata.creationTimestamp ?? '',
    // Whole seconds, as created_at (the times it derives from have no more precision).
    expires_at: new Date(sessionDeadline(s, ctx.config.session_ttl_seconds).at).toISOString().replace(/\.\d+Z$/, 'Z'),
  };
  if (ws) info.workspace_id = ws.name;
  return info;
}

/** s-<10 characters of [a-z0-9]>: short to type, 51 bits of randomness. */
function newSessionName(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const b = randomBytes(10);
  let s = 's-';
  for (const x of b) s += alphabet[x % alphabet.length];
  return s;
}

/** INVALID_IMAGE unless `image` may be used and is on this host. */
function checkImage(ctx: FacadeContext, image: string): void {
  const allowed = ctx.config.allowed_images;
  if (allowed.length > 0 && !allowed.includes(image)) {
    throw new SeedError(400, ErrorCode.InvalidImage, `image not allowed: ${image} (allowed_images: ${allowed.join(', ')})`, { image, allowed_images: allowed });
  }
  let found: boolean;
  try {
    found = readImageMeta(ctx.dataDir, image) !== undefined;
  } catch (e) {
    if (e instanceof ImageMetaError) throw new SeedError(400, ErrorCode.InvalidImage, `invalid image ${JSON.stringify(image)}: ${e.message}`, { image });
    throw e;
  }
  if (!found) throw new SeedError(400, ErrorCode.InvalidImage, `image not found: ${image} (pull or import it first)`, { image });
}

const condition = (s: StoredObject | undefined, type: string): Condition | undefined =>
  ((s as unknown as Session | undefined)?.status?.conditions ?? []).find((c) => c.type === type);

/** Pending reasons the Session reconciler retries by itself (anything else in Pending is a refusal). */
const TRANSIENT_PENDING = new Set(['Starting', 'ImageNotFound', 'ImageUnreadable', 'WorkspaceNotFound', 'WorkspacePending', 'WorkspaceTerminating']);

type StartOutcome = { ready: Session } | { error: SeedError };

function startOutcome(id: string, uid: string, obj: StoredObject | undefined): StartOutcome | undefined {
  const s = obj as unknown as Session | undefined;
  if (!s || s.metadata.uid !== uid) return { error: new SeedError(500, ErrorCode.InternalError, `session ${id} was deleted while it was starting`) };
  const phase = s.status?.phase;
  if (phase === 'Ready' && !s.metadata.deletionTimestamp) return { ready: s };
  if (phase === 'Failed' || phase === 'Expired' || s.metadata.deletionTimestamp) {
    return { error: new SeedError(500, ErrorCode.InternalError, `session ${id} could not start: ${s.status?.message ?? s.status?.reason ?? phase}`, { reason: s.status?.reason }) };
  }
  const ready = condition(obj, 'Ready');
  if (phase === 'Pending' && ready?.status === 'False' && ready.reason && !TRANSIENT_PENDING.has(ready.reason)) {
    const image = condition(obj, 'ImageReady');
    if (image?.status === 'False') return { error: new SeedError(400, ErrorCode.InvalidImage, image.message ?? `image refused (${image.reason})`, { reason: image.reason }) };
    return { error: new SeedError(500, ErrorCode.InternalError, `session ${id} was refused: ${ready.message ?? ready.reason}`, { reason: ready.reason }) };
  }
  return undefined;
}

export function createHandler(ctx: FacadeContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const b = await readJsonObject(req, true);
    // Empty strings and zeros mean "the default", as in the original.
    const image = optString(b, 'image') || ctx.config.default_image;
    const ttl = optInt(b, 'ttl_seconds', 0, 86400, ' (seconds)') ?? 0;
    const wsId = optString(b, 'workspace_id') || undefined;
    if (wsId !== undefined) {
      checkWorkspaceId(wsId);
      if (!ctx.config.workspace.enabled) {
        throw new SeedError(400, ErrorCode.InvalidWorkspace, `workspaces are disabled on this daemon (workspace.enabled: false); workspace_id ${wsId} cannot be used`);
      }
    }
    checkImage(ctx, image);

    let workspace: string | undefined;
    if (wsId !== undefined) {
      const ws = await ensureWorkspace(ctx.client, V1_NAMESPACE, wsId, { reclaimPolicy: 'Retain' });
      if (ws.metadata.deletionTimestamp) {
        throw new SeedError(409, ErrorCode.InvalidWorkspace, `workspace ${wsId} is being deleted; try again once it is gone`);
      }
      workspace = wsId;
    }

    let created: Session | undefined;
    for (let attempt = 0; !created; attempt++) {
      const name = newSessionName();
      if (wsId === undefined && ctx.config.workspace.enabled && ctx.config.workspace.persist_by_default) {
        workspace = await ensureDefaultWorkspace(ctx.client, { metadata: { name, namespace: V1_NAMESPACE } });
      }
      const obj: Session = {
        apiVersion: 'sandkasten.dev/v1',
        kind: 'Session',
        metadata: { name, namespace: V1_NAMESPACE, labels: { [V1_LABEL]: 'v1' } },
        spec: { image, ...(ttl > 0 && { ttlSeconds: ttl }), ...(workspace !== undefined && { workspace }) },
      };
      try {
        created = await ctx.client.create('sessions', V1_NAMESPACE, obj);
      } catch (e) {
        if (!isAlreadyExists(e) || attempt >= 5) throw e;
      }
    }
    const id = created.metadata.name!;
    const uid = created.metadata.uid!;

    // A caller that leaves stops the wait; the session is then removed like a failed one.
    const gone = new AbortController();
    const onClose = () => {
      if (!res.writableFinished) gone.abort();
    };
    res.once('close', onClose);
    const r = await waitForObject(ctx.store, { resource: 'sessions', namespace: V1_NAMESPACE, name: id }, (o) => startOutcome(id, uid, o), ctx.createTimeoutMs, gone.signal);
    res.off('close', onClose);
    let outcome: StartOutcome;
    if ('value' in r) outcome = r.value;
    else {
      const s = r.last as unknown as Session | undefined;
      const why = condition(r.last, 'Ready')?.message ?? s?.status?.message;
      outcome = { error: new SeedError(500, ErrorCode.InternalError, `session ${id} did not become ready within ${ctx.createTimeoutMs} ms${why ? `: ${why}` : ''}`) };
    }
    if ('error' in outcome) {
      await ctx.client.delete('sessions', V1_NAMESPACE, id, { preconditions: { uid } }).catch((e: unknown) => {
        if (!isNotFound(e)) ctx.logger.warn(`/v1: removing session ${id} that did not start failed: ${(e as Error).message}`);
      });
      throw outcome.error;
    }

    // The shell's own working directory (and proof that it answers) before the caller gets the id.
    try {
      const rs = await ctx.resolver.ready(V1_NAMESPACE, id);
      const first = await rs.runner.exec('true', { timeoutMs: 10_000 });
      if (first.cwd) ctx.cwds.set(uid, first.cwd);
    } catch (e) {
      if (!(e instanceof RunnerError)) throw e;
      ctx.logger.warn(`/v1: session ${id}: the shell did not answer its first exec: ${e.message}`);
    }
    sendJson(res, 201, sessionInfo(ctx, outcome.ready));
  };
}

export function listHandler(ctx: FacadeContext) {
  return async (_req: Request, res: Response): Promise<void> => {
    const { items } = await ctx.client.list('sessions', V1_NAMESPACE);
    const when = (s: Session) => s.metadata.creationTimestamp ?? '';
    items.sort((a, b) => (when(a) < when(b) ? -1 : when(a) > when(b) ? 1 : (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '')));
    sendJson(res, 200, items.map((s) => sessionInfo(ctx, s)));
  };
}

export function getHandler(ctx: FacadeContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const id = checkSessionId(req.params.id as string);
    const s = await ctx.lookup.get(id);
    if (s.status?.phase === 'Expired') throw expired(id, s.status.message);
    sendJson(res, 200, sessionInfo(ctx, s));
  };
}

/**
 * DELETE answers once the sandbox is gone (the Session's finalizer done), as the original answered
 * after destroying it. A session the TTL reaper expired is gone already: that is success too.
 */
export function deleteHandler(ctx: FacadeContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const id = checkSessionId(req.params.id as string);
    let s: Session;
    try {
      s = await ctx.lookup.get(id);
    } catch (e) {
      if (e instanceof SeedError && e.code === ErrorCode.SessionExpired) return sendJson(res, 200, { ok: true });
      throw e;
    }
    const uid = s.metadata.uid!;
    try {
      await ctx.client.delete('sessions', V1_NAMESPACE, id, { preconditions: { uid } });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    const r = await waitForObject(ctx.store, { resource: 'sessions', namespace: V1_NAMESPACE, name: id }, (o) => (!o || o.metadata.uid !== uid ? true : undefined), ctx.deleteTimeoutMs);
    if (!('value' in r)) {
      const why = (r.last as unknown as Session | undefined)?.status?.message;
      throw new SeedError(500, ErrorCode.InternalError, `session ${id} is still being destroyed after ${ctx.deleteTimeoutMs} ms${why ? `: ${why}` : ''}`);
    }
    ctx.cwds.delete(uid);
    sendJson(res, 200, { ok: true });
  };
}

