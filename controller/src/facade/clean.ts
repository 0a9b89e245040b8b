// Exec output as the /v1 API returns it unless raw_output is set: terminal escape sequences
// (ECMA-48: CSI, OSC, DCS/SOS/PM/APC strings, and the short ESC forms) removed and CRLF turned
// into LF. Streamed output is cleaned chunk by chunk; a sequence or a CRLF split between two
// chunks is held back until the next one completes it, so a split never leaks half an escape.

// CSI ESC [ params intermediates final (and the 8-bit CSI); OSC ESC ] … BEL or ST; the string
// controls ESC P/X/^/_ … ST; then ESC with intermediates and a final byte (charset selection,
// keypad modes, RIS, …).
const ANSI = /(?:\x1b\[|\u009b)[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[PX^_][^\x1b]*\x1b\\|\x1b[ -/]*[0-~]/g;

/** The start of a sequence (or a CR) that the end of a chunk leaves unfinished. */
const UNFINISHED = /(?:(?:\x1b\[|\u009b)[0-?]*[ -/]*|\x1b\][^\x07\x1b]*\x1b?|\x1b[PX^_][^\x1b]*\x1b?|\x1b[ -/]*|\r)$/;

/** Held back at most this much; an unterminated string control longer than this is let through. */
const MAX_HELD = 4096;

export function cleanOutput(s: string): string {
  return s.replace(ANSI, '').replace(/\r\n/g, '\n');
}

/** Cleans a stream of decoded text. */
export class OutputCleaner {
  #held = '';

  push(text: string): string {
    let s = this.#held + text;
    this.#held = '';
    const from = Math.max(0, s.length - MAX_HELD);
    const m = UNFINISHED.exec(s.slice(from));
    if (m && m[0] !== '') {
      const at = from + m.index;
      this.#held = s.slice(at);
      s = s.slice(0, at);
    }
    return cleanOutput(s);
  }

  /** What is still held when the stream ends: a lone CR stays, an unfinished sequence goes. */
  end(): string {
    const s = this.#held;
    this.#held = '';
    return s === '\r' ? s : '';
  }
}
