// A debouncer with a maximum wait: a burst of triggers (a `git checkout` touching a hundred files,
// an editor's save-rename-chmod) fires once, `quietMs` after the last trigger — but never later
// than `maxWaitMs` after the first, so a directory that never stops changing is still synced.

export class Debouncer {
  #timer: NodeJS.Timeout | undefined;
  #firstAt = 0;

  constructor(
    private readonly fire: () => void,
    private readonly quietMs: number,
    private readonly maxWaitMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Is a fire scheduled? */
  get pending(): boolean {
    return this.#timer !== undefined;
  }

  trigger(): void {
    const now = this.now();
    if (this.#timer === undefined) this.#firstAt = now;
    else clearTimeout(this.#timer);
    const delay = Math.max(0, Math.min(this.quietMs, this.#firstAt + this.maxWaitMs - now));
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.fire();
    }, delay);
  }

  cancel(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
