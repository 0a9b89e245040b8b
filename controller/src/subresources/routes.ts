// The routes, for the API server's `extend` hook (behind its authentication):
//   POST                     …/namespaces/{ns}/sessions/{name}/exec
//   GET HEAD PUT POST DELETE …/namespaces/{ns}/sessions/{name}/fs?path=…
//   GET                      …/namespaces/{ns}/sessions/{name}/stats
//   GET (WebSocket)          …/namespaces/{ns}/sessions/{name}/attach

import type { Request, Response, Router } from 'express';
import { DEFAULT_MAX_BODY_BYTES } from '../apiserver/server.js';
import { ApiError, errors } from '../apiserver/errors.js';
import { silentLogger, type Logger } from '../apiserver/logger.js';
import { sendJson } from '../apiserver/reply.js';
import { GROUP_VERSION } from '../apiserver/resources.js';
import { Client } from '../client/index.js';
import { nodeAgentPath } from '../config/binaries.js';
import type { Store } from '../store/types.js';
import { attachHandler, nodeAgentTerminal, type TerminalCommandFn } from './attach.js';
import { makeTarget, statusOf, type SubresourceContext } from './context.js';
import { execHandler } from './exec.js';
import { fsHandlers } from './fs.js';
import { ActivityRecorder, defaultLocator, SessionResolver, type SandboxLocator } from './session.js';
import { CgroupGoneError, readCgroupStats } from './stats.js';

export const SESSION_PATH = `/apis/${GROUP_VERSION}/namespaces/:ns/sessions/:name`;

/** Default of max_upload_bytes. */
export const DEFAULT_MAX_UPLOAD_BYTES = 1024 ** 3;
/** Default of defaults.max_exec_timeout_ms. */
export const DEFAULT_MAX_EXEC_TIMEOUT_MS = 120_000;

/** The config keys the subresources read (a subset of sandkasten.yaml). */
export interface SubresourceConfig {
  data_dir?: string;
  node_agent_path?: string;
  max_body_bytes?: number;
  max_upload_bytes?: number;
  defaults?: { max_exec_timeout_ms?: number };
}

export interface SubresourceOptions {
  /** The in-process API client (or a store to make one over). */
  client?: Client;
  store?: Store;
  config: SubresourceConfig;
  /** Where sessions' sandboxes live; default config.data_dir. */
  dataDir?: string;
  logger?: Logger;
  /** Maps a Ready session to its runner socket and cgroup; default: the host layout under dataDir. */
  locate?: SandboxLocator;
  /** The process behind attach; default `node-agent exec` of a login shell. */
  terminal?: TerminalCommandFn;
  /** At most one activity write per session per this many ms; default 1000. */
  activityIntervalMs?: number;
}

function methods(allowed: string[], handler: (req: Request, res: Response) => Promise<void>) {
  return async (req: Request, res: Response): Promise<void> => {
    if (!allowed.includes(req.method)) {
      res.setHeader('Allow', allowed.join(', '));
      throw errors.methodNotAllowed(req.method, req.path);
    }
    await handler(req, res);
  };
}

/** The subresource routes as an `extend` function for createApiServer. */
export function sessionSubresources(o: SubresourceOptions): (router: Router) => void {
  const client = o.client ?? (o.store ? new Client(o.store) : undefined);
  if (!client) throw new Error('sessionSubresources: needs a client or a store');
  const logger = o.logger ?? silentLogger;
  const dataDir = o.dataDir ?? o.config.data_dir;
  if (!o.locate && !dataDir) throw new Error('sessionSubresources: needs dataDir (or config.data_dir) or a locator');
  const locate = o.locate ?? defaultLocator(dataDir!);
  const ctx: SubresourceContext = {
    resolver: new SessionResolver({ client, locate, logger }),
    activity: new ActivityRecorder(client, logger, o.activityIntervalMs),
    logger,
    maxBodyBytes: o.config.max_body_bytes ?? DEFAULT_MAX_BODY_BYTES,
    maxExecTimeoutMs: o.config.defaults?.max_exec_timeout_ms ?? DEFAULT_MAX_EXEC_TIMEOUT_MS,
    maxUploadBytes: o.config.max_upload_bytes ?? DEFAULT_MAX_UPLOAD_BYTES,
    target: makeTarget,
    toStatus: statusOf(logger),
  };
  const fs = fsHandlers(ctx);
  const attach = attachHandler(ctx, { terminal: o.terminal ?? nodeAgentTerminal(nodeAgentPath(o.config)) });

  const stats = async (req: Request, res: Response): Promise<void> => {
    const { ns, name } = ctx.target(req);
    const { session, location } = await ctx.resolver.ready(ns, name);
    // A monitor polling stats (skctl tui, a dashboard) passes activity=false so that watching a
    // session does not keep it from expiring; any other read counts as use, like every call.
    if (req.query.activity !== 'false') ctx.activity.touch(session);
    try {
      sendJson(res, 200, readCgroupStats(location.cgroup));
    } catch (e) {
      if (e instanceof CgroupGoneError) throw new ApiError(503, 'ServiceUnavailable', `session ${name}: ${e.message} (the sandbox is not running)`);
      throw e;
    }
  };

  return (router) => {
    router.all(`${SESSION_PATH}/exec`, methods(['POST'], execHandler(ctx)));
    router.all(
      `${SESSION_PATH}/fs`,
      methods(['GET', 'HEAD', 'PUT', 'POST', 'DELETE'], async (req, res) => {
        switch (req.method) {
          case 'PUT':
            return fs.put(req, res);
          case 'POST':
            return fs.post(req, res);
          case 'DELETE':
            return fs.delete(req, res);
          default:
            return fs.get(req, res);
        }
      }),
    );
    router.all(`${SESSION_PATH}/stats`, methods(['GET', 'HEAD'], stats));
    router.all(`${SESSION_PATH}/attach`, methods(['GET'], attach));
  };
}
