// The WebSocket client against a real server (the `ws` library the daemon uses) and against raw
// sockets that break the protocol: messages both ways (small, 16- and 64-bit lengths, fragmented),
// ping/pong, the close handshake either way, a lost connection, handshake refusals and forgeries.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { WebSocketServer, type WebSocket } from 'ws';
import { makeCert, tempDir } from '@sandkasten/controller/dist/bin/testutil.js';
import { NotFoundError, Transport, UnauthorizedError, WebSocketError, connectWebSocket, type WebSocketClient } from './index.js';

type Handler = (ws: WebSocket, req: http.IncomingMessage) => void;

describe('against ws', () => {
  let server: http.Server;
  let wss: WebSocketServer;
  let handler: Handler = () => {};
  let transport: Transport;

  before(async () => {
    server = http.createServer((req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 404, reason: 'NotFound', message: 'sessions.sandkasten.dev "x" not found' }));
    });
    wss = new WebSocketServer({ noServer: true, perMessageDeflate: true, handleProtocols: (p) => (p.has('two') ? 'two' : false) });
    server.on('upgrade', (req, socket, head) => {
      if (req.headers.authorization !== 'Bearer k') {
        socket.end('HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{"kind":"Status","apiVersion":"v1","status":"Failure","code":401,"reason":"Unauthorized","message":"wrong key"}');
        return;
      }
      if (req.url?.startsWith('/missing')) {
        socket.end('HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{"kind":"Status","apiVersion":"v1","status":"Failure","code":404,"reason":"NotFound","message":"no such terminal"}');
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => handler(ws, req));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    transport = new Transport({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, apiKey: 'k' });
  });
  after(async () => {
    transport.close();
    wss.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const connect = (path = '/t', protocols?: string[]) => connectWebSocket(transport, { path, protocols });
  const nextMessage = (c: WebSocketClient) => new Promise<{ data: Buffer; binary: boolean }>((r) => c.once('message', (data: Buffer, binary: boolean) => r({ data, binary })));
  const closed = (c: WebSocketClient) => new Promise<{ code: number; reason: string }>((r) => c.once('close', (code: number, reason: string) => r({ code, reason })));

  test('messages both ways: text and binary, every length encoding, fragmented; no compression offered', async () => {
    let extensions: string | undefined;
    handler = (ws, req) => {
      extensions = req.headers['sec-websocket-extensions'];
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    };
    const c = await connect();
    assert.equal(extensions, undefined);
    assert.equal(c.readyState, c.OPEN);
    for (const size of [0, 5, 125, 126, 65535, 65536, 1 << 20]) {
      const payload = Buffer.alloc(size, size % 251);
      c.send(payload);
      const m = await nextMessage(c);
      assert.equal(m.binary, true);
      assert.ok(m.data.equals(payload), `${size} bytes`);
    }
    c.send('grüße');
    const t = await nextMessage(c);
    assert.equal(t.binary, false);
    assert.equal(t.data.toString('utf8'), 'grüße');

    handler = (ws) => {
      ws.send('frag', { fin: false });
      ws.send('ment', { fin: false });
      ws.send('ed', { fin: true });
    };
    const c2 = await connect();
    assert.equal((await nextMessage(c2)).data.toString(), 'fragmented');
    c.close();
    c2.close();
    await Promise.all([closed(c), closed(c2)]);
  });

  test('ping answered with pong; our ping gets a pong', async () => {
    let pong: Promise<Buffer> = Promise.resolve(Buffer.alloc(0));
    handler = (ws) => {
      pong = new Promise((r) => ws.once('pong', (d) => r(d)));
      ws.ping(Buffer.from('are you there'));
    };
    const c = await connect();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal((await pong).toString(), 'are you there');
    const ours = new Promise<Buffer>((r) => c.once('pong', (d: Buffer) => r(d)));
    c.ping(Buffer.from('and you?'));
    assert.equal((await ours).toString(), 'and you?');
    c.terminate();
  });

  test('the close handshake: the server\'s code and reason; ours reaches the server', async () => {
    handler = (ws) => ws.close(4000, 'bye now');
    let c = await connect();
    assert.deepEqual(await closed(c), { code: 4000, reason: 'bye now' });
    assert.equal(c.readyState, c.CLOSED);
    assert.equal(c.send('late'), false);

    let seen: Promise<{ code: number; reason: string }> = Promise.resolve({ code: 0, reason: '' });
    handler = (ws) => {
      seen = new Promise((r) => ws.once('close', (code, reason) => r({ code, reason: reason.toString() })));
    };
    c = await connect();
    await new Promise((r) => setTimeout(r, 20));
    c.close(1000, 'done');
    assert.equal(c.readyState, c.CLOSING);
    assert.deepEqual(await closed(c), { code: 1000, reason: 'done' });
    assert.deepEqual(await seen, { code: 1000, reason: 'done' });

    handler = (ws) => setTimeout(() => ws.terminate(), 20);
    c = await connect();
    assert.deepEqual(await closed(c), { code: 1006, reason: '' }, 'a lost connection is 1006');
  });

  test('subprotocols: the chosen one; refusals are the server\'s Status', async () => {
    handler = () => {};
    const c = await connect('/t', ['one', 'two']);
    assert.equal(c.protocol, 'two');
    c.terminate();
    await assert.rejects(connect('/missing'), (e: NotFoundError) => e instanceof NotFoundError && e.message === 'no such terminal');
    const bad = new Transport({ baseUrl: transport.baseUrl.href, apiKey: 'wrong' });
    await assert.rejects(connectWebSocket(bad, { path: '/t' }), UnauthorizedError);
    bad.close();
  });
});

describe('against servers that break the protocol', () => {
  let server: http.Server;
  let onUpgrade: (req: http.IncomingMessage, socket: Duplex) => void = () => {};
  let transport: Transport;
  const accept = (req: http.IncomingMessage) => createHash('sha1').update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  const switching = (req: http.IncomingMessage, extra = '') => `HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept(req)}\r\n${extra}\r\n`;

  const sockets = new Set<Duplex>();
  before(async () => {
    server = http.createServer();
    server.on('upgrade', (req, socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      onUpgrade(req, socket);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    transport = new Transport({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
  });
  after(async () => {
    transport.close();
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });

  test('a forged accept key, an extension or subprotocol not offered: refused', async () => {
    onUpgrade = (_req, socket) => socket.end('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: AAAA\r\n\r\n');
    await assert.rejects(connectWebSocket(transport, { path: '/' }), (e: Error) => e instanceof WebSocketError && /wrong Sec-WebSocket-Accept/.test(e.message));
    onUpgrade = (req, socket) => socket.end(switching(req, 'sec-websocket-extensions: permessage-deflate\r\n'));
    await assert.rejects(connectWebSocket(transport, { path: '/' }), /an extension was not offered/);
    onUpgrade = (req, socket) => socket.end(switching(req, 'sec-websocket-protocol: evil\r\n'));
    await assert.rejects(connectWebSocket(transport, { path: '/' }), /subprotocol "evil" was not offered/);
  });

  test('frames that break the rules close the connection with 1002; too big with 1009; data in the 101 packet is read', async () => {
    const cases: { frame: Buffer; code: number }[] = [
      { frame: Buffer.from([0x81, 0x81, 1, 2, 3, 4, 0x61]), code: 1002 }, // masked by the server
      { frame: Buffer.from([0xc1, 0x01, 0x61]), code: 1002 }, // RSV1 without an extension
      { frame: Buffer.from([0x80, 0x01, 0x61]), code: 1002 }, // continuation of nothing
      { frame: Buffer.from([0x09, 0x00]), code: 1002 }, // fragmented ping
      { frame: Buffer.from([0x83, 0x00]), code: 1002 }, // reserved opcode
      { frame: Buffer.from([0x82, 0x7f, 0, 0, 0, 1, 0, 0, 0, 0]), code: 1009 }, // 4 GiB
    ];
    for (const { frame, code } of cases) {
      let reply: Promise<Buffer> = Promise.resolve(Buffer.alloc(0));
      onUpgrade = (req, socket) => {
        reply = new Promise((r) => {
          const got: Buffer[] = [];
          socket.on('data', (d: Buffer) => got.push(d));
          // The server side of the close: its FIN after ours (http servers allow half-open sockets).
          socket.on('end', () => {
            socket.end();
            r(Buffer.concat(got));
          });
          socket.on('close', () => r(Buffer.concat(got)));
        });
        socket.write(switching(req));
        socket.write(frame);
      };
      const c = await connectWebSocket(transport, { path: '/' });
      const end = await new Promise<number>((r) => c.once('close', (x: number) => r(x)));
      assert.equal(end, code, frame.toString('hex'));
      const r = await reply;
      // Our close frame: masked, opcode 8, the code first.
      assert.equal(r[0], 0x88);
      const mask = r.subarray(2, 6);
      assert.equal(((r[6]! ^ mask[0]!) << 8) | (r[7]! ^ mask[1]!), code);
    }

    onUpgrade = (req, socket) => socket.write(Buffer.concat([Buffer.from(switching(req)), Buffer.from([0x82, 0x02, 0x68, 0x69])]));
    const c = await connectWebSocket(transport, { path: '/' });
    const m = await new Promise<Buffer>((r) => c.once('message', (d: Buffer) => r(d)));
    assert.equal(m.toString(), 'hi');
    c.terminate();
  });
});

test('over TLS: the CA is checked, the socket is the upgraded TLS connection', async (t) => {
  const dir = tempDir('sk-ws-tls-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const pem = makeCert(dir);
  if (!pem) return t.skip('openssl is not installed');
  const cert = readFileSync(pem.cert);
  const server = https.createServer({ cert, key: readFileSync(pem.key) });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => ws.on('message', (d) => ws.send(d, { binary: true })));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const good = new Transport({ baseUrl: url, tls: { ca: cert } });
    const c = await connectWebSocket(good, { path: '/' });
    c.send(Buffer.from('secret'));
    const m = await new Promise<Buffer>((r) => c.once('message', (d: Buffer) => r(d)));
    assert.equal(m.toString(), 'secret');
    c.close();
    await new Promise((r) => c.once('close', r));
    good.close();
    const untrusted = new Transport({ baseUrl: url, retry: { attempts: 1 } });
    await assert.rejects(connectWebSocket(untrusted, { path: '/' }), /self-signed|unable to verify|certificate/i);
    untrusted.close();
  } finally {
    wss.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});
