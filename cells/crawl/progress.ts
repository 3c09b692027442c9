/**
 * The crawl's progress across its sources: items found (the total grows as
 * links are discovered) and items done, reported to `ctx.progress` at most
 * every 100 ms; and the page budget (maxPages) web and local crawls share.
 *
 * @example
 * ```ts
 * import type { Context } from "../../kernel/mod.ts";
 * import { Progress } from "./progress.ts";
 *
 * declare const ctx: Context;
 * const progress = new Progress((done, total) => ctx.progress(done, total));
 * progress.found(10); progress.done(); progress.flush();
 * ```
 */

const INTERVAL_MS = 100;

export class Progress {
  #done = 0;
  #total = 0;
  #last = 0;

  constructor(private readonly report: (done: number, total?: number) => void) {}

  found(n = 1): void {
    this.#total += n;
  }

  done(n = 1): void {
    this.#done += n;
    const now = performance.now();
    if (now - this.#last >= INTERVAL_MS) {
      this.#last = now;
      this.report(this.#done, Math.max(this.#total, this.#done));
    }
  }

  flush(): void {
    this.report(this.#done, Math.max(this.#total, this.#done));
  }
}

/** maxPages, shared by every web and local seed: each URL or file taken counts once. */
export class Budget {
  #used = 0;
  /** Set once a page was refused for lack of budget. */
  exhausted = false;

  constructor(readonly max: number) {}

  take(): boolean {
    if (this.#used >= this.max) {
      this.exhausted = true;
      return false;
    }
    this.#used++;
    return true;
  }

  get used(): number {
    return this.#used;
  }
}
