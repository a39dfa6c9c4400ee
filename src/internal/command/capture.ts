// Collecting a command's output up to a byte limit, for both runners.
import type { Readable } from "node:stream";

/** A stream's bytes up to a limit; the first byte over it calls `onOverflow` once, and the rest is dropped. */
export class Capture {
  readonly #chunks: Buffer[] = [];
  #bytes = 0;
  overflowed = false;

  constructor(stream: Readable | null | undefined, limit: number, onOverflow: () => void) {
    stream?.on("data", (chunk: Buffer) => {
      if (this.overflowed) return;
      this.#bytes += chunk.length;
      if (this.#bytes > limit) {
        this.overflowed = true;
        onOverflow();
      } else this.#chunks.push(chunk);
    });
  }

  /** Decoded once at the end, so a character split across chunks comes out whole. */
  text(): string {
    return Buffer.concat(this.#chunks).toString("utf8");
  }
}
