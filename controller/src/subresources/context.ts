// What every subresource handler shares: the session resolver, the activity recorder, limits.

import type { Request } from 'express';
import { toApiError, type Status } from '../apiserver/errors.js';
import type { Logger } from '../apiserver/logger.js';
import type { ActivityRecorder, SessionResolver } from './session.js';

export interface SubresourceContext {
  resolver: SessionResolver;
  activity: ActivityRecorder;
  logger: Logger;
  /** Largest JSON body (exec). */
  maxBodyBytes: number;
  /** Cap and default of an exec's timeoutMs. */
  maxExecTimeoutMs: number;
  /** Largest upload (PUT fs), and most bytes a tar upload extracts. */
  maxUploadBytes: number;
  /** The namespace and session name of a subresource route. */
  target(req: Request): { ns: string; name: string };
  /** Any error as the Status a client gets (logged as the error middleware does). */
  toStatus(e: unknown, req: Request): Status;
}

export function makeTarget(req: Request): { ns: string; name: string } {
  const p = req.params as Record<string, string>;
  return { ns: p.ns!, name: p.name! };
}

export function statusOf(logger: Logger) {
  return (e: unknown, req: Request): Status => toApiError(e, logger, req.method, req.originalUrl).toStatus();
}
