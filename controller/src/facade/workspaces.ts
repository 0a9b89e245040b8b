// GET /v1/workspaces and DELETE /v1/workspaces/{id}: the original's workspaces as Workspaces in
// the `default` namespace. Deleting one deletes its data, as the original did: the reclaim policy
// is set to Delete first. A workspace that a session still mounts is not deleted (409).

import type { Request, Response } from 'express';
import type { Workspace } from '@sandkasten/api-schemas';
import { sendJson } from '../apiserver/reply.js';
import { isNotFound } from '../client/index.js';
import { workspaceUsers } from '../controllers/workspace.js';
import type { RuntimeObject } from '../runtime/index.js';
import { checkWorkspaceId } from './body.js';
import { V1_NAMESPACE, type FacadeContext } from './context.js';
import { ErrorCode, SeedError } from './errors.js';
import { waitForObject } from './wait.js';

export interface WorkspaceInfo {
  id: string;
  size_bytes: number;
  created_at: string;
  /** The sessions that mount it. */
  sessions: string[];
}

function workspaceInfo(w: Workspace): WorkspaceInfo {
  return {
    id: w.metadata.name ?? '',
    size_bytes: w.status?.sizeBytes ?? 0,
    created_at: w.metadata.creationTimestamp ?? '',
    sessions: w.status?.sessions ?? [],
  };
}

export function listWorkspacesHandler(ctx: FacadeContext) {
  return async (_req: Request, res: Response): Promise<void> => {
    const { items } = await ctx.client.list('workspaces', V1_NAMESPACE);
    sendJson(res, 200, { workspaces: items.map(workspaceInfo) });
  };
}

export function deleteWorkspaceHandler(ctx: FacadeContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const id = checkWorkspaceId(req.params.id as string, 'workspace id');
    const ws = await ctx.client.tryGet('workspaces', V1_NAMESPACE, id);
    if (!ws) throw new SeedError(404, ErrorCode.WorkspaceNotFound, `workspace not found: ${id}`);
    // The Session objects, not status.sessions: that is written by the reconciler, a moment late.
    const { items } = await ctx.client.list('sessions', V1_NAMESPACE);
    const users = workspaceUsers(items as unknown as RuntimeObject[], V1_NAMESPACE, id);
    if (users.length > 0) {
      throw new SeedError(409, ErrorCode.WorkspaceInUse, `workspace ${id} is in use by session${users.length > 1 ? 's' : ''} ${users.join(', ')}: destroy ${users.length > 1 ? 'them' : 'it'} first`, {
        sessions: users,
      });
    }
    const uid = ws.metadata.uid!;
    try {
      if (ws.spec?.reclaimPolicy !== 'Delete') {
        await ctx.client.patch('workspaces', V1_NAMESPACE, id, { metadata: { uid }, spec: { reclaimPolicy: 'Delete' } });
      }
      await ctx.client.delete('workspaces', V1_NAMESPACE, id, { preconditions: { uid } });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    // Answer once the data is gone (the Workspace's finalizer has run), as the original did.
    const r = await waitForObject(ctx.store, { resource: 'workspaces', namespace: V1_NAMESPACE, name: id }, (o) => (!o || o.metadata.uid !== uid ? true : undefined), ctx.deleteTimeoutMs);
    if (!('value' in r)) {
      const w = r.last as unknown as Workspace | undefined;
      const sessions = w?.status?.sessions ?? [];
      throw new SeedError(
        sessions.length > 0 ? 409 : 500,
        sessions.length > 0 ? ErrorCode.WorkspaceInUse : ErrorCode.InternalError,
        `workspace ${id} is still being deleted after ${ctx.deleteTimeoutMs} ms${w?.status?.message ? `: ${w.status.message}` : ''}`,
      );
    }
    sendJson(res, 200, { ok: true });
  };
}
