// The runner's wire protocol (runner/PROTOCOL.md), shared by the client and its tests.
//
// Every message is a frame: [u32 LE payload length][u8 type][payload]. A request frame carries
// typed fields as TLV ([u8 tag][u32 LE length][value], integers as u64 LE); responses are raw
// byte frames (output, file data) and JSON frames (meta, entries, result, error). Every JSON
// string the runner writes is a *byte string*: each character U+0000..U+00FF stands for one
// byte, so paths and output-derived text need not be UTF-8 and arrive intact.

export const PROTOCOL_VERSION = 1;
export const FRAME_HEADER = 5;
/** Largest payload the runner accepts in one frame. */
export const FRAME_MAX = 16 << 20;
/** Uploads are cut into DATA frames of at most this size. */
export const DATA_CHUNK = 256 << 10;

export const Frame = {
  // requests
  EXEC: 0x01,
  RUN: 0x02,
  SIGNAL: 0x03,
  INFO: 0x04,
  SHUTDOWN: 0x05,
  FS_READ: 0x10,
  FS_WRITE: 0x11,
  FS_LIST: 0x12,
  FS_STAT: 0x13,
  FS_MKDIR: 0x14,
  FS_REMOVE: 0x15,
  FS_RENAME: 0x16,
  // client → runner during an operation
  DATA: 0x20,
  END: 0x21,
  CANCEL: 0x22,
  // runner → client
  OUT: 0x81,
  ERR: 0x82,
  META: 0x83,
  ENTRIES: 0x84,
  RESULT: 0x8e,
  ERROR: 0x8f,
} as const;
export type FrameType = (typeof Frame)[keyof typeof Frame];

export const Tag = {
  COMMAND: 1,
  TIMEOUT_MS: 2,
  PATH: 3,
  PATH2: 4,
  OFFSET: 5,
  LENGTH: 6,
  MODE: 7,
  FLAGS: 8,
  ARG: 9,
  ENV: 10,
  CWD: 11,
  SIGNAL: 12,
} as const;

export const Flag = {
  APPEND: 1 << 0,
  PARENTS: 1 << 1,
  RECURSIVE: 1 << 2,
  STDIN: 1 << 3,
  NOREPLACE: 1 << 4,
  EXCL: 1 << 5,
} as const;

/** A field value: bytes, text (UTF-8), or an integer (u64). */
export type FieldValue = Uint8Array | string | number | bigint;
export type Field = readonly [tag: number, value: FieldValue];

export function encodeFrame(type: number, payload: Uint8Array = EMPTY): Buffer {
  if (payload.length > FRAME_MAX) throw new RangeError(`frame payload of ${payload.length} bytes exceeds ${FRAME_MAX}`);
  const out = Buffer.allocUnsafe(FRAME_HEADER + payload.length);
  out.writeUInt32LE(payload.length, 0);
  out[4] = type;
  out.set(payload, FRAME_HEADER);
  return out;
}

export function encodeFields(fields: readonly Field[]): Buffer {
  const parts: Buffer[] = [];
  for (const [tag, value] of fields) {
    let v: Buffer;
    if (typeof value === 'number' || typeof value === 'bigint') {
      const n = BigInt(value);
      if (n < 0n || n > 0xffff_ffff_ffff_ffffn) throw new RangeError(`field ${tag}: ${value} is not a u64`);
      v = Buffer.allocUnsafe(8);
      v.writeBigUInt64LE(n);
    } else {
      v = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value.buffer, value.byteOffset, value.length);
    }
    const h = Buffer.allocUnsafe(5);
    h[0] = tag;
    h.writeUInt32LE(v.length, 1);
    parts.push(h, v);
  }
  return Buffer.concat(parts);
}

export function encodeRequest(type: number, fields: readonly Field[] = []): Buffer {
  return encodeFrame(type, encodeFields(fields));
}

export interface DecodedFrame {
  type: number;
  payload: Buffer;
}

/** Cuts a byte stream into frames; feed it socket chunks in order. */
export class FrameDecoder {
  #buf: Buffer = EMPTY;

  /** Returns the complete frames now available; throws on a frame larger than maxPayload. */
  push(chunk: Buffer, maxPayload = FRAME_MAX * 2): DecodedFrame[] {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    const frames: DecodedFrame[] = [];
    let off = 0;
    while (this.#buf.length - off >= FRAME_HEADER) {
      const len = this.#buf.readUInt32LE(off);
      if (len > maxPayload) throw new RangeError(`frame of ${len} bytes exceeds ${maxPayload}`);
      if (this.#buf.length - off < FRAME_HEADER + len) break;
      const type = this.#buf[off + 4]!;
      frames.push({ type, payload: this.#buf.subarray(off + FRAME_HEADER, off + FRAME_HEADER + len) });
      off += FRAME_HEADER + len;
    }
    // Keep the tail by reference; it is copied once the next chunk arrives.
    this.#buf = off === this.#buf.length ? EMPTY : this.#buf.subarray(off);
    return frames;
  }

  /** Bytes received that do not form a whole frame yet. */
  get pending(): number {
    return this.#buf.length;
  }
}

const EMPTY = Buffer.alloc(0);
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** The bytes behind one of the runner's JSON byte strings. */
export function byteStringToBuffer(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}

/**
 * Decodes a runner byte string: `text` is the UTF-8 reading (with U+FFFD where the bytes are
 * not UTF-8) and `raw` holds the exact bytes only when they are not valid UTF-8.
 */
export function decodeByteString(s: string): { text: string; raw?: Buffer } {
  // Pure ASCII is the common case and means the same in both readings.
  if (/^[\x00-\x7f]*$/.test(s)) return { text: s };
  const raw = byteStringToBuffer(s);
  try {
    return { text: utf8Strict.decode(raw) };
  } catch {
    return { text: raw.toString('utf8'), raw };
  }
}

/** Parses a JSON frame payload. */
export function parseJson(payload: Buffer): unknown {
  // The runner only writes ASCII JSON (byte strings escape everything else).
  return JSON.parse(payload.toString('latin1'));
}

export function toBytes(v: string | Uint8Array): Buffer {
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v.buffer, v.byteOffset, v.length);
}
