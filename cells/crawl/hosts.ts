/**
 * Politeness: work queued per host and started only while the host has fewer
 * than `perHost` requests in flight and at least `delayMs` has passed since
 * its previous start (Scrapy's CONCURRENT_REQUESTS_PER_DOMAIN and
 * DOWNLOAD_DELAY), with a global cap across hosts. Event-driven: queued work
 * is plain data, not a waiting promise per URL.
 *
 * @example
 * ```ts
 * import { HostQueues } from "./hosts.ts";
 *
 * declare const signal: AbortSignal;
 * const queues = new HostQueues<string>({ perHost: 4, delayMs: 0, global: 64, signal }, async (url) => { await fetch(url); });
 * queues.push("example.com", "https://example.com/");
 * await queues.idle(); // every queued item has run, including ones pushed while running
 * ```
 */

interface Host<T> {
  queue: T[];
  head: number;
  active: number;
  nextStart: number;
  delayMs: number;
  timer?: ReturnType<typeof setTimeout>;
}

export interface HostQueueOptions {
  perHost: number;
  delayMs: number;
  global: number;
  signal: AbortSignal;
}

export class HostQueues<T> {
  #hosts = new Map<string, Host<T>>();
  #ready = new Set<string>();
  #active = 0;
  #pending = 0;
  #failed: unknown;
  #pumping = false;
  #again = false;
  #idle: { resolve: () => void; reject: (err: unknown) => void } | undefined;

  /**
   * `run` may call `release` before it ends: its host slot (and its place under the global cap) is then free
   * for the next item, though the item still counts for idle() until run ends (a page fetched, being parsed).
   */
  constructor(
    private readonly options: HostQueueOptions,
    private readonly run: (item: T, host: string, release: () => void) => Promise<void>,
  ) {
    options.signal.addEventListener("abort", () => this.#fail(options.signal.reason), { once: true });
  }

  push(host: string, item: T): void {
    const h = this.#host(host);
    h.queue.push(item);
    this.#pending++;
    this.#ready.add(host);
    this.#pump();
  }

  /** Raises the host's delay between request starts (robots.txt Crawl-delay); never lowers it. */
  raiseDelay(host: string, delayMs: number): void {
    const h = this.#host(host);
    if (delayMs > h.delayMs) {
      h.nextStart += delayMs - h.delayMs;
      h.delayMs = delayMs;
    }
  }

  /** Items queued but not started. */
  get queued(): number {
    return this.#pending - this.#active;
  }

  /** Resolves once nothing is queued or running; rejects with the first error a run threw, or the abort. */
  idle(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#failed !== undefined) return reject(this.#failed);
      if (this.#pending === 0) return resolve();
      this.#idle = { resolve, reject };
    });
  }

  #host(host: string): Host<T> {
    let h = this.#hosts.get(host);
    if (!h) {
      h = { queue: [], head: 0, active: 0, nextStart: 0, delayMs: this.options.delayMs };
      this.#hosts.set(host, h);
    }
    return h;
  }

  #pump(): void {
    // A run that pushes synchronously would re-enter; the outer pass picks its items up instead.
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#again = false;
        this.#pass();
      } while (this.#again);
    } finally {
      this.#pumping = false;
    }
  }

  #pass(): void {
    if (this.#failed !== undefined) return;
    for (const name of this.#ready) {
      const h = this.#hosts.get(name)!;
      while (h.head < h.queue.length && h.active < this.options.perHost && this.#active < this.options.global) {
        const now = performance.now();
        if (h.delayMs > 0 && now < h.nextStart) {
          h.timer ??= setTimeout(() => {
            h.timer = undefined;
            this.#pump();
          }, h.nextStart - now);
          break;
        }
        const item = h.queue[h.head];
        h.queue[h.head++] = undefined as T;
        if (h.head > 1024 && h.head * 2 > h.queue.length) {
          h.queue = h.queue.slice(h.head);
          h.head = 0;
        }
        h.active++;
        this.#active++;
        h.nextStart = now + h.delayMs;
        this.#start(name, h, item);
      }
      if (h.head >= h.queue.length) this.#ready.delete(name);
      if (this.#active >= this.options.global) break;
    }
  }

  #start(name: string, h: Host<T>, item: T): void {
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      h.active--;
      this.#active--;
      this.#pump();
    };
    this.run(item, name, release).then(
      () => {
        if (held) {
          held = false;
          h.active--;
          this.#active--;
        }
        this.#pending--;
        if (this.#pending === 0) this.#idle?.resolve();
        else this.#pump();
      },
      (err) => this.#fail(err),
    );
  }

  #fail(err: unknown): void {
    if (this.#failed !== undefined) return;
    this.#failed = err ?? new Error("aborted");
    for (const h of this.#hosts.values()) clearTimeout(h.timer);
    this.#idle?.reject(this.#failed);
  }
}
