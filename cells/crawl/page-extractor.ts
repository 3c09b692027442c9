/**
 * Where the web crawl decodes and extracts its pages: in a worker thread once
 * the crawl is big enough to repay starting one, so that parsing runs on one
 * core while the main thread fetches and stores on the other (on a 2-core host
 * the crawl was bound by its one thread: extraction was half its CPU).
 *
 * It pays only where a core is free for it: the worker's isolate compiles
 * the parser anew and each page crosses threads twice, so the crawl's CPU
 * per page rises (bench/crawl on the PostgreSQL manual, 2-core host: warm
 * 1.4–1.7 ms with the worker against 0.8–1.1 ms without; first crawl of a
 * process 2.3 against 1.7–1.8), and on 2 cores shared with the server, V8's
 * compiler and GC threads and the rest, the overlap did not win that back
 * (first crawl 0.38–0.52 of wget's pages/s with it, 0.65–0.73 without). So
 * by default the worker is used on hosts of more than 2 cores only;
 * CELLAR_CRAWL_WORKER=always or never overrides that.
 *
 * Small crawls (tests, a handful of pages) never start it: it is started
 * once the crawl has found more than `workerAfter` pages (24), and
 * until it has answered a first small page of its own, pages are extracted
 * on the main thread, in slices that yield to the event loop
 * (extractHtmlAsync). One worker, pages in order. A page that holds the worker past
 * its time bound (`baseMs` plus `msPerMb` per MB of the page: extraction is
 * linear, about 1 s per MB at worst) gets the worker terminated and is that
 * page's `timeout` failure; the pages queued behind it go to a new worker. A
 * worker that dies fails the page it was on (`unreadable`). Two such failures
 * in a row, or a worker that cannot start, send the rest of the crawl back to
 * the main thread.
 *
 * @example
 * ```ts
 * import { PageExtractor } from "./page-extractor.ts";
 *
 * declare const signal: AbortSignal, bytes: Uint8Array;
 * const extractor = new PageExtractor({ signal });
 * const r = await extractor.extract({ bytes, kind: "html", url: "https://x.org/" });
 * if (r.ok) console.log(r.doc.title, r.doc.links.length);
 * extractor.close();
 * ```
 */
import { CellarError, runtime } from "../../kernel/mod.ts";
import type { TextKind } from "./content-type.ts";
import { decodeText } from "./decode.ts";
import { extractDocumentAsync, type Extracted } from "./extract.ts";
import type { PageJob, PageReply } from "./extract-worker.ts";

const WORKER_URL = new URL("./extract-worker.ts", import.meta.url).href;
/** Pages a crawl finds before its worker starts, where it has one: small crawls never pay a worker's start. */
const WORKER_AFTER = 24;
/** The time a new worker has to start and answer its probe page. */
const START_MS = 20_000;
/** The page a new worker is sent first. */
const PROBE = new TextEncoder().encode("<title>probe</title><p>started</p>");

export interface ExtractorOptions {
  signal: AbortSignal;
  /** Pages found before the worker is started (24 on hosts of more than 2 cores, else Infinity: never). */
  workerAfter?: number;
  /** A page's time bound in the worker: `baseMs` + `msPerMb` per MB of its bytes. */
  baseMs?: number;
  msPerMb?: number;
}

export type ExtractResult =
  | { ok: true; doc: Extracted; hash?: string }
  | { ok: false; reason: "undecodable" | "not_text" | "timeout" | "unreadable"; detail: string };

export interface PageInput {
  bytes: Uint8Array;
  kind: TextKind;
  charset?: string;
  url: string;
}

interface Pending {
  job: PageJob;
  resolve(r: ExtractResult): void;
  reject(err: unknown): void;
}

export class PageExtractor {
  readonly #signal: AbortSignal;
  readonly #workerAfter: number;
  readonly #baseMs: number;
  readonly #msPerMb: number;
  #pages = 0;
  #nextId = 1;
  #worker: ReturnType<typeof runtime.spawnHandlerWorker> | undefined;
  /** Pages go to the worker (it has answered one, or replaced one that had). */
  #ready = false;
  /** The current worker has answered a page: it is started. */
  #started = false;
  /** Some worker has answered a page: workers can start here. */
  #everStarted = false;
  /** No more workers: none could start, or one died twice in a row. */
  #disabled = false;
  #deaths = 0;
  /** Pages posted to the worker and not answered, oldest first; the first is the one it works on. */
  readonly #queue: Pending[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #onAbort = () => this.close();

  constructor(options: ExtractorOptions) {
    this.#signal = options.signal;
    this.#workerAfter = options.workerAfter ?? defaultWorkerAfter();
    this.#baseMs = options.baseMs ?? 5_000;
    this.#msPerMb = options.msPerMb ?? 3_000;
    this.#signal.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** Whether pages are now extracted in the worker (for the crawl's log). */
  get inWorker(): boolean {
    return this.#ready;
  }

  /** Pages sent to the worker and not answered yet. */
  get backlog(): number {
    return this.#queue.length;
  }

  /** Told how many pages the crawl has found so far: the worker starts once they are more than `workerAfter`. */
  found(pages: number): void {
    if (pages > this.#workerAfter && this.#worker === undefined && !this.#disabled) this.#start();
  }

  async extract(page: PageInput): Promise<ExtractResult> {
    this.#signal.throwIfAborted();
    if (this.#worker !== undefined && this.#ready) return await this.#inWorker(page);
    return await inThread(page);
  }

  /** Stops the worker; pages it had not answered fail with the crawl's abort. */
  close(): void {
    this.#signal.removeEventListener("abort", this.#onAbort);
    this.#disabled = true;
    this.#stop();
    const reason = this.#signal.reason ?? new Error("the page extractor was closed");
    for (const p of this.#queue.splice(0)) p.reject(reason);
  }

  /** A new worker, sent a small page first: its answer says it is started (pages go to it from then on). */
  #start(): void {
    this.#started = false;
    const worker: ReturnType<typeof runtime.spawnHandlerWorker> = runtime.spawnHandlerWorker(WORKER_URL, (message) => {
      if (this.#worker === worker) this.#answer(message as PageReply);
    }, (error) => {
      if (this.#worker === worker) this.#died(`the extraction worker died: ${error.message}`);
    });
    this.#worker = worker;
    const probe: PageJob = { id: this.#nextId++, bytes: PROBE, kind: "html", url: "http://localhost/" };
    this.#queue.unshift({ job: probe, resolve: () => {}, reject: () => {} });
    worker.post(probe);
    if (this.#queue.length === 1) this.#arm();
  }

  #inWorker(page: PageInput): Promise<ExtractResult> {
    const job: PageJob = { id: this.#nextId++, bytes: page.bytes, kind: page.kind, charset: page.charset, url: page.url };
    return new Promise((resolve, reject) => {
      this.#queue.push({ job, resolve, reject });
      this.#worker!.post(job);
      if (this.#queue.length === 1) this.#arm();
    });
  }

  #answer(reply: PageReply): void {
    const head = this.#queue[0];
    if (head === undefined || head.job.id !== reply.id) return;
    this.#queue.shift();
    this.#ready = this.#started = this.#everStarted = true;
    this.#deaths = 0;
    head.resolve(reply.ok ? { ok: true, doc: reply.doc, hash: reply.hash } : { ok: false, reason: reply.reason, detail: reply.detail });
    this.#arm();
  }

  /** The time bound of the page the worker is on (the queue's head), from now. */
  #arm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const head = this.#queue[0];
    if (head === undefined) return;
    // A worker still starting is on its probe page: it gets START_MS to start and answer (a loaded host).
    const bound = this.#started ? this.#baseMs + (this.#msPerMb * head.job.bytes.length) / 1_048_576 : START_MS;
    this.#timer = setTimeout(() => this.#wedged(bound), bound);
  }

  #wedged(bound: number): void {
    if (this.#notStarting()) return;
    if (++this.#deaths >= 2) this.#disabled = true;
    this.#fail("timeout", `extraction took over ${Math.round(bound)} ms; its worker was stopped`);
    this.#restart();
  }

  #died(detail: string): void {
    if (this.#notStarting()) return;
    if (++this.#deaths >= 2) this.#disabled = true;
    this.#fail("unreadable", detail);
    this.#restart();
  }

  /**
   * When no worker has ever answered a page, workers cannot start here (or not in time): extraction stays
   * on the main thread, the pages sent to the worker included. True when that is so.
   */
  #notStarting(): boolean {
    if (this.#everStarted) return false;
    this.#disabled = true;
    this.#stop();
    for (const p of this.#queue.splice(0)) inThread(p.job).then(p.resolve, p.reject);
    return true;
  }

  /** The page the worker was on fails; the worker is stopped. */
  #fail(reason: "timeout" | "unreadable", detail: string): void {
    const head = this.#queue.shift();
    this.#stop();
    head?.resolve({ ok: false, reason, detail });
  }

  /** Pages that were queued behind a failed one go to a new worker, or back to the main thread. */
  #restart(): void {
    const rest = this.#queue.splice(0);
    if (this.#signal.aborted) {
      for (const p of rest) p.reject(this.#signal.reason);
      return;
    }
    if (this.#disabled) {
      for (const p of rest) inThread(p.job).then(p.resolve, p.reject);
      return;
    }
    this.#start();
    this.#ready = true;
    for (const p of rest) {
      this.#queue.push(p);
      this.#worker!.post(p.job);
    }
    this.#arm();
  }

  #stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#worker?.terminate();
    this.#worker = undefined;
  }
}

/** Pages found before the worker starts: the host's choice (more than 2 cores), or CELLAR_CRAWL_WORKER's. */
function defaultWorkerAfter(): number {
  const choice = runtime.env("CELLAR_CRAWL_WORKER");
  if (choice === undefined || choice === "") return runtime.cpuCount() > 2 ? WORKER_AFTER : Infinity;
  if (choice === "always") return WORKER_AFTER;
  if (choice === "never") return Infinity;
  throw new CellarError(`CELLAR_CRAWL_WORKER: expected always or never (or unset: a worker on hosts of more than 2 cores), got ${JSON.stringify(choice)}`);
}

/** One page on the main thread: decoded, then extracted in slices that yield to the event loop. */
async function inThread(page: PageInput): Promise<ExtractResult> {
  const decoded = decodeText(page.bytes, page.kind, page.charset);
  if (!decoded.ok) return { ok: false, reason: decoded.reason, detail: decoded.detail };
  return { ok: true, doc: await extractDocumentAsync(page.kind, decoded.text, page.url) };
}
