import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  FRAME_MAX,
  Frame,
  FrameDecoder,
  Tag,
  decodeByteString,
  encodeFields,
  encodeFrame,
  encodeRequest,
  parseJson,
  type DecodedFrame,
} from './protocol.js';
import { startRunner, type StandaloneRunner } from './testing.js';

describe('framing', () => {
  test('a frame is [u32 LE length][type][payload]', () => {
    const f = encodeFrame(Frame.DATA, Buffer.from('abc'));
    assert.deepEqual([...f], [3, 0, 0, 0, 0x20, 0x61, 0x62, 0x63]);
  });

  test('fields are TLV, integers u64 LE, strings UTF-8', () => {
    const b = encodeFields([
      [Tag.PATH, 'é'],
      [Tag.TIMEOUT_MS, 258],
      [Tag.COMMAND, new Uint8Array([0xff])],
    ]);
    assert.deepEqual(
      [...b],
      [3, 2, 0, 0, 0, 0xc3, 0xa9, 2, 8, 0, 0, 0, 2, 1, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0xff],
    );
    assert.throws(() => encodeFields([[Tag.OFFSET, -1]]), RangeError);
  });

  test('the decoder reassembles frames split anywhere and several per chunk', () => {
    const stream = Buffer.concat([encodeFrame(Frame.OUT, Buffer.from('hello')), encodeFrame(Frame.RESULT, Buffer.from('{}')), encodeFrame(Frame.OUT)]);
    for (let cut = 0; cut <= stream.length; cut++) {
      const d = new FrameDecoder();
      const got: DecodedFrame[] = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))];
      assert.deepEqual(
        got.map((f) => [f.type, f.payload.toString()]),
        [
          [Frame.OUT, 'hello'],
          [Frame.RESULT, '{}'],
          [Frame.OUT, ''],
        ],
        `cut at ${cut}`,
      );
      assert.equal(d.pending, 0);
    }
    // one byte at a time
    const d = new FrameDecoder();
    const got: DecodedFrame[] = [];
    for (const byte of stream) got.push(...d.push(Buffer.from([byte])));
    assert.equal(got.length, 3);
  });

  test('the decoder refuses absurd lengths', () => {
    const h = Buffer.alloc(5);
    h.writeUInt32LE(0xffffffff);
    assert.throws(() => new FrameDecoder().push(h), RangeError);
  });

  test('byte strings: ASCII as is, UTF-8 decoded, other bytes kept raw', () => {
    assert.deepEqual(decodeByteString('plain/path'), { text: 'plain/path' });
    // "é" as the runner writes it: two \u00XX characters, one per byte
    assert.deepEqual(decodeByteString('\u00c3\u00a9'), { text: 'é' });
    const bad = decodeByteString('a\u00ffb');
    assert.equal(bad.text, 'a\ufffdb');
    assert.deepEqual([...bad.raw!], [0x61, 0xff, 0x62]);
    assert.deepEqual(parseJson(Buffer.from('{"name":"\\u00ff"}')), { name: '\u00ff' });
  });
});

/** A raw connection to the runner, for what the client never sends. */
class RawConn {
  readonly socket: net.Socket;
  readonly frames: DecodedFrame[] = [];
  readonly decoder = new FrameDecoder();
  closed = false;
  #waiters: (() => void)[] = [];

  constructor(path: string) {
    this.socket = net.createConnection(path);
    this.socket.on('data', (c: Buffer) => {
      this.frames.push(...this.decoder.push(c));
      this.#wake();
    });
    this.socket.on('close', () => {
      this.closed = true;
      this.#wake();
    });
    this.socket.on('error', () => {});
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  async next(): Promise<DecodedFrame | null> {
    for (;;) {
      const f = this.frames.shift();
      if (f) return f;
      if (this.closed) return null;
      await new Promise<void>((r) => this.#waiters.push(r));
    }
  }

  async final(): Promise<{ type: number; json: Record<string, unknown> }> {
    for (;;) {
      const f = await this.next();
      if (f === null) throw new Error('connection closed before a final frame');
      if (f.type === Frame.RESULT || f.type === Frame.ERROR) return { type: f.type, json: parseJson(f.payload) as Record<string, unknown> };
    }
  }

  async closedByPeer(): Promise<boolean> {
    while ((await this.next()) !== null);
    return this.closed;
  }
}

describe('runner: bad input gets a clear error, never a crash', { timeout: 60_000 }, () => {
  let r: StandaloneRunner;
  before(async () => {
    r = await startRunner();
  });
  after(async () => {
    await r.stop();
  });

  test('unknown field, duplicate field, wrong integer size, missing field: BAD_REQUEST, connection stays', async () => {
    const c = new RawConn(r.socketPath);
    const cases: [Buffer, RegExp][] = [
      [encodeRequest(Frame.EXEC, [[Tag.PATH, '/x']]), /exec: unexpected field tag 3 path/],
      [encodeRequest(Frame.EXEC, [[Tag.COMMAND, 'a'], [Tag.COMMAND, 'b']]), /field command given twice/],
      [encodeFrame(Frame.EXEC, Buffer.from([2, 1, 0, 0, 0, 7])), /timeoutMs must be a u64/],
      [encodeRequest(Frame.EXEC), /field command is required/],
      [encodeRequest(Frame.EXEC, [[Tag.COMMAND, 'echo \0']]), /NUL byte/],
      [encodeRequest(Frame.FS_STAT, [[Tag.PATH, 'a\0b']]), /contains a NUL byte/],
      [encodeRequest(Frame.FS_REMOVE, [[Tag.PATH, '/x'], [Tag.FLAGS, 1 << 20]]), /unknown flags/],
      [encodeRequest(Frame.RUN, [[Tag.ARG, 'true'], [Tag.ENV, 'NOEQUALS']]), /NAME=value/],
      [encodeRequest(Frame.SIGNAL, [[Tag.SIGNAL, 'SIGNOPE']]), /unknown signal/],
      [encodeFrame(Frame.FS_STAT, Buffer.from([3, 9, 0, 0, 0, 0x41])), /longer than the frame/],
    ];
    for (const [frame, re] of cases) {
      c.socket.write(frame);
      const f = await c.final();
      assert.equal(f.type, Frame.ERROR);
      assert.equal(f.json.code, 'BAD_REQUEST', String(f.json.message));
      assert.match(String(f.json.message), re);
    }
    c.socket.write(encodeRequest(Frame.INFO));
    assert.equal((await c.final()).type, Frame.RESULT);
    c.socket.destroy();
  });

  test('an unknown frame type or a stray DATA frame ends the connection with PROTOCOL', async () => {
    for (const frame of [encodeFrame(0x77), encodeFrame(Frame.DATA, Buffer.from('x')), encodeFrame(Frame.OUT)]) {
      const c = new RawConn(r.socketPath);
      c.socket.write(frame);
      const f = await c.final();
      assert.equal(f.json.code, 'PROTOCOL');
      assert.ok(await c.closedByPeer());
    }
  });

  test('a frame larger than the limit is refused before it is read', async () => {
    const c = new RawConn(r.socketPath);
    const h = Buffer.alloc(5);
    h.writeUInt32LE(FRAME_MAX + 1);
    h[4] = Frame.EXEC;
    c.socket.write(h);
    const f = await c.final();
    assert.equal(f.json.code, 'PROTOCOL');
    assert.match(String(f.json.message), /larger than the limit/);
    assert.ok(await c.closedByPeer());
  });

  test('a second request while one runs is a protocol error; a late CANCEL is ignored', async () => {
    const c = new RawConn(r.socketPath);
    c.socket.write(encodeRequest(Frame.EXEC, [[Tag.COMMAND, 'sleep 0.2']]));
    c.socket.write(encodeRequest(Frame.INFO));
    const f = await c.final();
    assert.equal(f.json.code, 'PROTOCOL');
    assert.ok(await c.closedByPeer());
    // The exec was interrupted when its connection went; the shell is free again.
    const ok = await r.client.exec('echo free');
    assert.equal(ok.output.toString(), 'free\n');

    const d = new RawConn(r.socketPath);
    d.socket.write(encodeRequest(Frame.EXEC, [[Tag.COMMAND, 'true']]));
    assert.equal((await d.final()).type, Frame.RESULT);
    d.socket.write(encodeFrame(Frame.CANCEL));
    d.socket.write(encodeRequest(Frame.INFO));
    assert.equal((await d.final()).type, Frame.RESULT);
    d.socket.destroy();
  });

  test('the runner survives clients that vanish mid-frame or mid-operation', async () => {
    for (let i = 0; i < 20; i++) {
      const c = new RawConn(r.socketPath);
      const req = encodeRequest(Frame.FS_READ, [[Tag.PATH, '/nope']]);
      c.socket.end(req.subarray(0, i % req.length));
    }
    const big = new RawConn(r.socketPath);
    big.socket.write(encodeRequest(Frame.EXEC, [[Tag.COMMAND, 'head -c 20000000 /dev/zero']]));
    await new Promise((res) => setTimeout(res, 50));
    big.socket.destroy();
    const info = await r.client.info();
    assert.equal(info.pid, 1);
    assert.equal((await r.client.exec('echo still here')).output.toString(), 'still here\n');
  });
});
