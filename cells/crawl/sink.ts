/**
 * Where crawled documents, failures and page links go: collected and appended
 * to the cell's tables in batches (never row by row), each document given its
 * content hash and its status against the previous crawl ('new', 'changed',
 * 'unchanged'); pages answered 304 are copied from the previous crawl's rows,
 * a batch at a time. Counts for the cell's output are kept on the way.
 *
 * @example
 * ```ts
 * import type { Context } from "../../kernel/mod.ts";
 * import type { Previous } from "./previous.ts";
 * import { Sink } from "./sink.ts";
 *
 * declare const ctx: Context, previous: Previous;
 * const sink = await Sink.open(ctx, previous);
 * await sink.document({ id: "https://x.org/", url: "https://x.org/", title: "X", text: "hello", bytes: 5 });
 * await sink.failure({ url: "https://x.org/big", reason: "too_large", detail: "..." });
 * const output = await sink.finish(); // { documents, failures, links, fetched, unchanged, failed }
 * ```
 */
import { type Context, runtime, type TableRef, type TableWriter } from "../../kernel/mod.ts";
import type { Previous } from "./previous.ts";
import type { Failure, Reason } from "./types.ts";

const CRAWLED_COLUMNS = {
  id: "VARCHAR",
  url: "VARCHAR",
  title: "VARCHAR",
  text: "VARCHAR",
  content_hash: "VARCHAR",
  bytes: "BIGINT",
  fetched_at: "TIMESTAMPTZ",
  status: "VARCHAR",
  etag: "VARCHAR",
  last_modified: "VARCHAR",
};

const FAILURE_COLUMNS = { url: "VARCHAR", reason: "VARCHAR", detail: "VARCHAR" };

const LINK_COLUMNS = { url: "VARCHAR", links: "VARCHAR[]" };

const BATCH = 1000;

export interface DocumentInput {
  id: string;
  url: string | null;
  title: string;
  text: string;
  bytes: number;
  etag?: string | null;
  lastModified?: string | null;
  /** The text's SHA-256 (hex), when the caller has it already (the crawl's extraction worker computes it). */
  hash?: string;
}

export interface UnchangedInput {
  id: string;
  etag?: string | null;
  lastModified?: string | null;
}

export interface CrawlOutput {
  documents: TableRef;
  failures: TableRef;
  links: TableRef;
  fetched: number;
  unchanged: number;
  failed: number;
}

type Row = Record<string, unknown>;

/** How many failures a crawl that fetched nothing logs one by one; the rest are counted. */
const FAILURES_KEPT = 1_000;

export class Sink {
  readonly counts = { new: 0, changed: 0, unchanged: 0, failed: 0 };
  readonly reasons = new Map<Reason, number>();
  #ids = new Set<string>();
  #docs: Row[] = [];
  #copies: (UnchangedInput & { at: Date })[] = [];
  #failures: Row[] = [];
  #links: Row[] = [];
  #flushing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly ctx: Context,
    private readonly previous: Previous,
    private readonly tables: { crawled: TableWriter; failures: TableWriter; links: TableWriter },
  ) {}

  static async open(ctx: Context, previous: Previous): Promise<Sink> {
    const crawled = await ctx.table("crawled", CRAWLED_COLUMNS);
    const failures = await ctx.table("crawl_failures", FAILURE_COLUMNS);
    const links = await ctx.table("crawl_links", LINK_COLUMNS);
    return new Sink(ctx, previous, { crawled, failures, links });
  }

  /** True when a document with this id is already stored in this crawl. */
  has(id: string): boolean {
    return this.#ids.has(id);
  }

  /** Stores a fetched document; a second document with the same id is recorded as a failure instead. */
  async document(doc: DocumentInput): Promise<void> {
    if (this.#ids.has(doc.id)) {
      return await this.failure({ url: doc.url ?? doc.id, reason: "duplicate_id", detail: `id ${JSON.stringify(doc.id)} was already stored` });
    }
    this.#ids.add(doc.id);
    const hash = doc.hash ?? runtime.sha256Hex(doc.text);
    const before = this.previous.docs.get(doc.id);
    const status = before === undefined ? "new" : before.hash === hash ? "unchanged" : "changed";
    this.counts[status]++;
    this.#docs.push({
      id: doc.id, url: doc.url, title: doc.title, text: doc.text, content_hash: hash, bytes: doc.bytes,
      fetched_at: new Date(), status, etag: doc.etag ?? null, last_modified: doc.lastModified ?? null,
    });
    await this.#maybeFlush();
  }

  /** Stores a page the server said has not changed (304): its row is copied from the previous crawl. */
  async unchanged(doc: UnchangedInput): Promise<void> {
    if (this.#ids.has(doc.id)) return;
    this.#ids.add(doc.id);
    this.#copies.push({ ...doc, at: new Date() });
    await this.#maybeFlush();
  }

  /**
   * The first failures, for a crawl that fetched nothing: its tables roll back with the failed cell, so these
   * are logged, and the log is kept.
   */
  readonly firstFailures: Failure[] = [];

  async failure(f: Failure): Promise<void> {
    if (this.firstFailures.length < FAILURES_KEPT) this.firstFailures.push(f);
    this.counts.failed++;
    this.reasons.set(f.reason, (this.reasons.get(f.reason) ?? 0) + 1);
    this.#failures.push({ url: f.url, reason: f.reason, detail: f.detail });
    await this.#maybeFlush();
  }

  /** Records a page's links, so a later crawl can follow them when the page answers 304. */
  async links(url: string, links: string[]): Promise<void> {
    this.#links.push({ url, links });
    await this.#maybeFlush();
  }

  async finish(): Promise<CrawlOutput> {
    await this.#flush();
    return {
      documents: await this.tables.crawled.finish(),
      failures: await this.tables.failures.finish(),
      links: await this.tables.links.finish(),
      fetched: this.counts.new + this.counts.changed,
      unchanged: this.counts.unchanged,
      failed: this.counts.failed,
    };
  }

  async #maybeFlush(): Promise<void> {
    if (this.#docs.length + this.#copies.length >= BATCH || this.#failures.length >= BATCH || this.#links.length >= BATCH) {
      await this.#flush();
    }
  }

  /** Appends what is collected; flushes run one after another, whoever asks. */
  #flush(): Promise<void> {
    const docs = this.#docs.splice(0);
    const copies = this.#copies.splice(0);
    const failures = this.#failures.splice(0);
    const links = this.#links.splice(0);
    this.#flushing = this.#flushing.then(async () => {
      if (copies.length > 0) {
        const rows = await this.previous.rows(this.ctx, copies.map((c) => c.id));
        for (const c of copies) {
          const row = rows.get(c.id);
          if (!row) {
            this.counts.failed++;
            this.reasons.set("http_status", (this.reasons.get("http_status") ?? 0) + 1);
            failures.push({ url: c.id, reason: "http_status", detail: "304 Not Modified, but the previous crawl has no copy" });
            continue;
          }
          this.counts.unchanged++;
          docs.push({
            ...row, fetched_at: c.at, status: "unchanged", etag: c.etag ?? null, last_modified: c.lastModified ?? null,
          });
        }
      }
      if (docs.length > 0) await this.tables.crawled.append(docs);
      if (failures.length > 0) await this.tables.failures.append(failures);
      if (links.length > 0) await this.tables.links.append(links);
    });
    return this.#flushing;
  }
}
