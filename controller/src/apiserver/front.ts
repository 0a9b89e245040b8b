// The request listener in front of everything: one trace line per request, the open health
// endpoints, authentication, then the resource endpoints on plain node:http; whatever is not a
// resource path (discovery, OpenAPI, exec and other extensions, 404s) goes on to the express app.
// Resource requests skip express's per-request setup and route walk, which cost more than the
// store does.

import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { errors, sendStatus, toApiError } from './errors.js';
import type { ResourceEndpoints } from './handlers.js';
import { traceRequest, type Logger } from './logger.js';
import { sendText } from './reply.js';
import { ApiRequest } from './request.js';

export interface FrontOptions {
  logger: Logger;
  /** Checks the Authorization header; undefined: the API is open. */
  authorized?: (authorization: string | undefined) => boolean;
  resources: ResourceEndpoints;
  /** Serves the rest (already authenticated). */
  next: (req: IncomingMessage, res: ServerResponse) => void;
  /** Answers a failed authentication itself (true) for paths with their own error shape; else the Status. */
  unauthorized?: (req: IncomingMessage, res: ServerResponse) => boolean;
}

const HEALTHZ = JSON.stringify({ status: 'ok' });

/** The open health endpoints: /healthz answers as the original /v1 API did. */
function health(path: string, res: ServerResponse): boolean {
  switch (path) {
    case '/healthz':
      sendText(res, 200, HEALTHZ);
      return true;
    case '/livez':
    case '/readyz':
      sendText(res, 200, 'ok', 'text/plain; charset=utf-8');
      return true;
    default:
      return false;
  }
}

export function frontHandler(o: FrontOptions): RequestListener {
  return (req, res) => {
    const start = process.hrtime.bigint();
    const call = new ApiRequest(req);
    // Watches and responses served by express end later: trace them when the connection is done.
    const trace = () => traceRequest(o.logger, call.method, call.url, res.statusCode, start);
    const traceWhenDone = () => {
      if (res.writableEnded) trace();
      else res.once('close', trace);
    };
    const fail = (e: unknown) => {
      sendStatus(res, toApiError(e, o.logger, call.method, call.url));
      traceWhenDone();
    };
    if ((call.method === 'GET' || call.method === 'HEAD') && health(call.path, res)) return trace();
    if (o.authorized && !o.authorized(req.headers.authorization)) {
      if (o.unauthorized?.(req, res)) return traceWhenDone();
      return fail(errors.unauthorized());
    }
    let served: boolean | Promise<void>;
    try {
      served = o.resources(call, res);
    } catch (e) {
      return fail(e);
    }
    if (served === true) return traceWhenDone();
    if (served !== false) {
      served.then(traceWhenDone, fail);
      return;
    }
    res.once('close', trace);
    o.next(req, res);
  };
}
