// A push-to-pull bridge: a callback-style source pushes, one consumer iterates with for-await.
// Unbounded on purpose — an informer consumes as fast as it can apply to a Map.

export class Channel<T> implements AsyncIterable<T> {
  #buffer: T[] = [];
  #head = 0;
  #closed = false;
  #error: unknown;
  #wake: (() => void) | undefined;

  push(value: T): void {
    if (this.#closed) return;
    this.#buffer.push(value);
    this.#signal();
  }

  /** Ends the iteration after the buffered values; with an error, iteration throws it. */
  close(error?: unknown): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#error = error;
    this.#signal();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      while (this.#head < this.#buffer.length) {
        const value = this.#buffer[this.#head]!;
        this.#head++;
        if (this.#head === this.#buffer.length) {
          this.#buffer = [];
          this.#head = 0;
        }
        yield value;
      }
      if (this.#closed) {
        if (this.#error !== undefined) throw this.#error;
        return;
      }
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  #signal(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
