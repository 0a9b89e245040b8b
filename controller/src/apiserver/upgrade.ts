// Upgrade requests (WebSocket): Node hands them to the server's 'upgrade' event with the raw
// connection instead of to the request listener. They go through the same request listener all
// the same — authentication, trace line, routes — with a response bound to the connection; a route
// that speaks the new protocol takes the connection over with takeUpgrade(req), and whatever else
// answers (401, 404, a route's error) is written as a normal response and the connection closed.
//
// Browsers cannot set headers on a WebSocket: as Kubernetes does, a bearer token may come as the
// subprotocol `base64url.bearer.authorization.k8s.io.<base64url token>`; it becomes the
// Authorization header (when there is none) and is removed from the offered subprotocols, so it is
// never echoed back. Tokens in query strings are not accepted: they end up in logs and histories.

import { ServerResponse, type IncomingMessage, type RequestListener } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { errors, sendStatus } from './errors.js';

export const BEARER_PROTOCOL_PREFIX = 'base64url.bearer.authorization.k8s.io.';

export interface Upgrade {
  socket: Duplex;
  /** Bytes the client sent after the request's headers (usually none for a WebSocket). */
  head: Buffer;
}

const UPGRADE = Symbol('sandkasten.upgrade');
type UpgradeRequest = IncomingMessage & { [UPGRADE]?: Upgrade & { res: ServerResponse; taken: boolean } };

/** Is this an upgrade request that arrived through upgradeListener (and is not taken yet)? */
export function isUpgrade(req: IncomingMessage): boolean {
  const u = (req as UpgradeRequest)[UPGRADE];
  return u !== undefined && !u.taken;
}

/**
 * Takes the connection of an upgrade request over: from now on the caller writes the protocol's
 * handshake and frames on `socket`, and nothing else writes to it. undefined when the request is
 * not an upgrade (a plain GET) or was taken already.
 */
export function takeUpgrade(req: IncomingMessage): Upgrade | undefined {
  const u = (req as UpgradeRequest)[UPGRADE];
  if (u === undefined || u.taken) return undefined;
  u.taken = true;
  // The trace line then reports the switch; it is written when the connection closes.
  u.res.statusCode = 101;
  return { socket: u.socket, head: u.head };
}

/** Moves a bearer token offered as a WebSocket subprotocol into the Authorization header. */
function bearerFromProtocol(req: IncomingMessage): void {
  const offered = req.headers['sec-websocket-protocol'];
  if (offered === undefined) return;
  const protocols = offered.split(',').map((p) => p.trim()).filter((p) => p !== '');
  const rest = protocols.filter((p) => !p.startsWith(BEARER_PROTOCOL_PREFIX));
  if (rest.length === protocols.length) return;
  const token = protocols.find((p) => p.startsWith(BEARER_PROTOCOL_PREFIX))!.slice(BEARER_PROTOCOL_PREFIX.length);
  if (req.headers.authorization === undefined && token !== '') {
    req.headers.authorization = `Bearer ${Buffer.from(token, 'base64url').toString('utf8')}`;
  }
  if (rest.length > 0) req.headers['sec-websocket-protocol'] = rest.join(', ');
  else delete req.headers['sec-websocket-protocol'];
}

/** The server's 'upgrade' listener over the request listener; `sockets` tracks open connections. */
export function upgradeListener(handler: RequestListener, sockets: Set<Duplex>): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  return (req, socket, head) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    // A reset connection must not take the process down; the route's own listeners see it too.
    socket.on('error', () => {});
    const res = new ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket as Socket);
    // A response written the ordinary way ends the connection: nothing parses a next request on it.
    res.once('finish', () => socket.end());
    (req as UpgradeRequest)[UPGRADE] = { socket, head, res, taken: false };
    // The body of an upgrade request is never read (the parser is gone): only GET makes sense.
    if (req.method !== 'GET') {
      sendStatus(res, errors.badRequest(`an upgrade is only possible for GET requests, not ${req.method}`));
      return;
    }
    bearerFromProtocol(req);
    handler(req, res);
  };
}
