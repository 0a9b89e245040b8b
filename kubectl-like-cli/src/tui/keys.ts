// Keys for the TUI: Ink's Key for each character of a chunk that arrived whole (typed ahead, or
// sent by a program), line editing for prompts, and pasted blocks of lines.

import type { Key } from 'ink';

const NO_KEY: Key = {
  upArrow: false,
  downArrow: false,
  leftArrow: false,
  rightArrow: false,
  pageDown: false,
  pageUp: false,
  home: false,
  end: false,
  return: false,
  escape: false,
  ctrl: false,
  shift: false,
  tab: false,
  backspace: false,
  delete: false,
  meta: false,
  super: false,
  hyper: false,
  capsLock: false,
  numLock: false,
};

/** The input string Ink gives for a character: the letter of a control key, nothing for Enter. */
export function keyInput(ch: string): string {
  const c = ch.charCodeAt(0);
  if (ch === '\r' || ch === '\n' || ch === '\x7f' || ch === '\b' || ch === '\t') return '';
  return c < 0x20 ? String.fromCharCode(c + 0x60) : ch;
}

/** The Key of one character of a chunk, as Ink would have parsed it alone. */
export function keyOf(ch: string): Key {
  const c = ch.charCodeAt(0);
  if (ch === '\r' || ch === '\n') return { ...NO_KEY, return: true };
  if (ch === '\x7f') return { ...NO_KEY, delete: true };
  if (ch === '\b') return { ...NO_KEY, backspace: true };
  if (ch === '\t') return { ...NO_KEY, tab: true };
  if (c < 0x20) return { ...NO_KEY, ctrl: true };
  return { ...NO_KEY, shift: /[A-Z]/.test(ch) };
}

/** Line editing for prompts: printable text, Backspace/Delete, Ctrl-U, Ctrl-W. Undefined: not an edit. */
export function editLine(text: string, input: string, key: Key): string | undefined {
  if (key.backspace || key.delete) return text.slice(0, -1);
  if (key.ctrl && input === 'u') return '';
  if (key.ctrl && input === 'w') return text.replace(/\S*\s*$/, '');
  if (key.ctrl || key.meta || key.tab || key.upArrow || key.downArrow || key.leftArrow || key.rightArrow || key.return) return undefined;
  // eslint-disable-next-line no-control-regex
  const printable = input.replace(/[\x00-\x1f\x7f]/g, '');
  return printable ? text + printable : undefined;
}

/** Text that arrived in one piece with line breaks (a paste, or keys sent by a program). */
export function pasted(input: string, key: Key): { text: string; submit: boolean } | undefined {
  if (input.length < 2 || key.ctrl || key.meta || !/[\r\n]/.test(input)) return undefined;
  const submit = /[\r\n]$/.test(input);
  // eslint-disable-next-line no-control-regex
  const text = input.replace(/[\r\n]+$/, '').replace(/\r\n?/g, '\n').replace(/[\x00-\x09\x0b-\x1f\x7f]/g, '');
  return { text, submit };
}
