// The real terminal while the TUI runs: raw mode, the alternate screen, and one reader of stdin
// that hands the bytes to whoever has the keyboard — Ink (through a stream of its own, so Ink
// never sets an encoding on or pauses the real stdin) or an attached shell (raw bytes as typed).

import { PassThrough } from 'node:stream';

const ALT_SCREEN_ON = '\x1b[?1049h\x1b[H\x1b[2J';
const ALT_SCREEN_OFF = '\x1b[?1049l';
const SHOW_CURSOR = '\x1b[?25h';

export class Terminal {
  private sink: ((chunk: Buffer) => void) | undefined;
  private alt = false;
  private active = false;
  private readonly onData = (chunk: Buffer) => this.sink?.(chunk);

  constructor(
    readonly stdin: NodeJS.ReadStream,
    readonly stdout: NodeJS.WriteStream,
  ) {}

  size(): { cols: number; rows: number } {
    return { cols: this.stdout.columns || 80, rows: this.stdout.rows || 24 };
  }

  /** Raw mode on, stdin read by us from now on, the alternate screen. */
  setup(): void {
    if (this.active) return;
    this.active = true;
    this.stdin.setRawMode(true);
    this.stdin.on('data', this.onData);
    this.stdin.resume();
    this.enterAltScreen();
  }

  /** Puts the terminal back as it was. Safe to call twice (exit handlers). */
  restore(): void {
    if (!this.active) return;
    this.active = false;
    this.sink = undefined;
    this.leaveAltScreen();
    this.stdout.write(SHOW_CURSOR);
    this.stdin.off('data', this.onData);
    try {
      this.stdin.setRawMode(false);
    } catch {
      // the terminal may be gone (SIGHUP)
    }
    this.stdin.pause();
  }

  enterAltScreen(): void {
    if (this.alt) return;
    this.alt = true;
    this.stdout.write(ALT_SCREEN_ON);
  }

  leaveAltScreen(): void {
    if (!this.alt) return;
    this.alt = false;
    this.stdout.write(ALT_SCREEN_OFF);
  }

  /** A stdin for Ink: gets the keyboard from now on. */
  inkInput(): NodeJS.ReadStream {
    const s = new PassThrough() as PassThrough & Record<string, unknown>;
    // What Ink asks of a TTY stream; raw mode is ours and stays on.
    s.isTTY = true;
    s.setRawMode = () => s;
    s.ref = () => s;
    s.unref = () => s;
    this.sink = (chunk) => s.write(chunk);
    return s as unknown as NodeJS.ReadStream;
  }

  /** A byte stream of the keyboard for an attached terminal: gets it from now on. */
  rawInput(): PassThrough {
    const s = new PassThrough();
    this.sink = (chunk) => s.write(chunk);
    return s;
  }
}
