// The original Sandkasten's HTTP API (/v1) as a facade over the resources: sessions are Sessions
// and workspaces Workspaces in the `default` namespace, exec and files go to the session's runner.
// Mounted through the API server's `extend` hook, behind the same bearer key; its errors, a failed
// authentication included, have the original's shape {error_code, message, details?}. See README.md.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, Response, Router } from 'express';
import type { ResolvedConfig } from '@sandkasten/api-schemas';
import { silentLogger, type Logger } from '../apiserver/logger.js';
import { Client } from '../client/index.js';
import type { Store } from '../store/types.js';
import { ActivityRecorder, defaultLocator, SessionResolver, type SandboxLocator } from '../subresources/session.js';
import { ExecQueue, SessionLookup, type FacadeContext } from './context.js';
import { ErrorCode, seedErrorMiddleware, SeedError, v1Unauthorized } from './errors.js';
import { execHandler, execStreamHandler } from './exec.js';
import { readHandler, uploadHandler, writeHandler } from './fs.js';
import { createHandler, deleteHandler, getHandler, listHandler } from './sessions.js';
import { statsHandler } from './stats.js';
import { deleteWorkspaceHandler, listWorkspacesHandler } from './workspaces.js';

export { ErrorCode, SeedError, v1Unauthorized, isV1Path } from './errors.js';
export { cleanOutput, OutputCleaner } from './clean.js';
export { V1_NAMESPACE, seedStatus } from './context.js';
export { V1_LABEL, type SessionInfo } from './sessions.js';
export type { WorkspaceInfo } from './workspaces.js';

export interface SeedApiOptions {
  store: Store;
  config: ResolvedConfig;
  /** Default: a client over `store`. */
  client?: Client;
  /** Default: config.data_dir. */
  dataDir?: string;
  logger?: Logger;
  /** Where a Ready session's runner socket and cgroup are; default: the host layout under dataDir. */
  locate?: SandboxLocator;
  /** How long POST /v1/sessions waits for Ready (default 30 s), DELETE for the object to go (default 30 s). */
  createTimeoutMs?: number;
  deleteTimeoutMs?: number;
  /** At most one activity write per session per this many ms; default 1000. */
  activityIntervalMs?: number;
}

export interface SeedApi {
  /** The `extend` hook's part: registers the /v1 routes. */
  routes(router: Router): void;
  /** The API server's `unauthorized` hook: 401s on /v1 paths in the /v1 shape. */
  unauthorized(req: IncomingMessage, res: ServerResponse): boolean;
  /** Closes pooled runner connections. */
  close(): void;
}

type Handler = (req: Request, res: Response) => Promise<void>;

function methods(table: Record<string, Handler>) {
  const allowed = Object.keys(table);
  if (table.GET) allowed.push('HEAD');
  return async (req: Request, res: Response): Promise<void> => {
    const h = table[req.method === 'HEAD' ? 'GET' : req.method];
    if (!h) {
      res.setHeader('Allow', allowed.join(', '));
      throw new SeedError(405, ErrorCode.MethodNotAllowed, `method ${req.method} not allowed on ${req.path} (allowed: ${allowed.join(', ')})`);
    }
    await h(req, res);
  };
}

export function seedApi(o: SeedApiOptions): SeedApi {
  const client = o.client ?? new Client(o.store, { fieldManager: 'sandkasten-v1' });
  const logger = o.logger ?? silentLogger;
  const dataDir = o.dataDir ?? o.config.data_dir;
  const resolver = new SessionResolver({ client, locate: o.locate ?? defaultLocator(dataDir), logger });
  const ctx: FacadeContext = {
    client,
    store: o.store,
    config: o.config,
    dataDir,
    logger,
    resolver,
    activity: new ActivityRecorder(client, logger, o.activityIntervalMs),
    lookup: new SessionLookup(client, resolver),
    cwds: new Map(),
    execQueue: new ExecQueue(),
    createTimeoutMs: o.createTimeoutMs ?? 30_000,
    deleteTimeoutMs: o.deleteTimeoutMs ?? 30_000,
  };
  return {
    routes(router) {
      router.all('/v1/sessions', methods({ GET: listHandler(ctx), POST: createHandler(ctx) }));
      router.all('/v1/sessions/:id', methods({ GET: getHandler(ctx), DELETE: deleteHandler(ctx) }));
      router.all('/v1/sessions/:id/exec', methods({ POST: execHandler(ctx) }));
      router.all('/v1/sessions/:id/exec/stream', methods({ POST: execStreamHandler(ctx) }));
      router.all('/v1/sessions/:id/fs/write', methods({ POST: writeHandler(ctx) }));
      router.all('/v1/sessions/:id/fs/read', methods({ GET: readHandler(ctx) }));
      router.all('/v1/sessions/:id/fs/upload', methods({ POST: uploadHandler(ctx) }));
      router.all('/v1/sessions/:id/stats', methods({ GET: statsHandler(ctx) }));
      router.all('/v1/workspaces', methods({ GET: listWorkspacesHandler(ctx) }));
      router.all('/v1/workspaces/:id', methods({ DELETE: deleteWorkspaceHandler(ctx) }));
      router.use('/v1', (req: Request) => {
        throw new SeedError(404, ErrorCode.NotFound, `no such endpoint: ${req.method} ${req.originalUrl.split('?')[0]}`);
      });
      router.use('/v1', seedErrorMiddleware(logger));
    },
    unauthorized: v1Unauthorized,
    close() {
      resolver.close();
    },
  };
}
