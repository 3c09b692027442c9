/**
 * The web crawl: breadth-first from the seeds, following links on the seed's
 * site (its origin: scheme, host and port, widened by allowHosts; a redirect
 * off it is recorded as `off_site`) up to maxDepth links away and maxPages in
 * all; robots.txt obeyed (and its Crawl-delay); requests per host bounded and
 * spaced; every normalized URL requested at most once, redirects included.
 * A page answered 304 keeps its previous row, and its stored links are
 * followed as if it had been fetched. Pages are decoded and extracted by a
 * PageExtractor: on this thread for a small crawl, in a worker thread beside
 * it once the crawl has more than a couple of dozen pages.
 *
 * @example
 * ```ts
 * import { crawlHttp, type HttpCrawl } from "./http.ts";
 *
 * declare const crawl: HttpCrawl; // { options, signal, sink, previous, budget, progress }
 * const stats = await crawlHttp(["https://example.com/"], crawl);
 * console.log(stats.requests, stats.pages);
 * ```
 */
import { fetchPage, type FetchResult } from "./fetch.ts";
import { HostQueues } from "./hosts.ts";
import { PageExtractor } from "./page-extractor.ts";
import type { Previous } from "./previous.ts";
import type { Budget, Progress } from "./progress.ts";
import { RobotsCache } from "./robots.ts";
import type { Sink } from "./sink.ts";
import type { CrawlOptions } from "./types.ts";
import { hostOf, looksLikeNonPage, onSite, siteOf } from "./url.ts";

/** Requests in flight across all hosts. */
const GLOBAL_CONCURRENCY = 64;

/** Pages fetched and waiting for extraction beyond which a fetch keeps its request slot until its page is parsed. */
const MAX_BACKLOG = 32;

/** Failures whose detail already spells out the redirect chain. */
const CHAIN_IN_DETAIL = new Set(["redirect_loop", "too_many_redirects"]);

export interface HttpCrawl {
  options: CrawlOptions;
  signal: AbortSignal;
  sink: Sink;
  previous: Previous;
  budget: Budget;
  progress: Progress;
}

export interface HttpStats {
  /** URLs requested (redirect hops count once per URL; robots.txt not counted). */
  requests: number;
  /** Documents stored: fetched or kept as unchanged. */
  pages: number;
  notModified: number;
  /** Distinct links not followed because they leave the site (kept in crawl_links all the same). */
  offSite: number;
}

interface Task {
  url: string;
  depth: number;
  site: string;
}

export function crawlHttp(seeds: string[], crawl: HttpCrawl): Promise<HttpStats> {
  return new WebCrawl(crawl).run(seeds);
}

/** One web crawl's frontier and bookkeeping. */
class WebCrawl {
  readonly #crawl: HttpCrawl;
  readonly #robots: RobotsCache;
  readonly #queues: HostQueues<Task>;
  readonly #extractor: PageExtractor;
  /** URLs queued or requested: a link to one of them is not queued again. */
  readonly #seen = new Set<string>();
  /** URLs requested, directly or as a redirect target: never requested twice. */
  readonly #claimed = new Set<string>();
  /** Links off the site, counted once each. */
  readonly #offSite = new Set<string>();
  readonly stats: HttpStats = { requests: 0, pages: 0, notModified: 0, offSite: 0 };

  constructor(crawl: HttpCrawl) {
    const { options, signal, progress } = crawl;
    this.#crawl = crawl;
    this.#robots = new RobotsCache({ userAgent: options.userAgent, timeoutMs: options.timeoutMs, signal });
    this.#extractor = new PageExtractor({ signal });
    this.#queues = new HostQueues<Task>(
      { perHost: options.perHostConcurrency, delayMs: options.perHostDelayMs, global: GLOBAL_CONCURRENCY, signal },
      async (task, _host, release) => {
        try {
          await this.#visit(task, release);
        } finally {
          progress.done();
        }
      },
    );
  }

  async run(seeds: string[]): Promise<HttpStats> {
    try {
      for (const url of seeds) this.#enqueue({ url, depth: 0, site: siteOf(url) });
      await this.#queues.idle();
      return this.stats;
    } finally {
      this.#extractor.close();
    }
  }

  /** Queues a task unless its URL was seen; false once maxPages is used up. */
  #enqueue(task: Task): boolean {
    if (this.#seen.has(task.url)) return true;
    if (!this.#crawl.budget.take()) return false;
    this.#seen.add(task.url);
    this.#extractor.found(this.#seen.size);
    this.#crawl.progress.found();
    this.#queues.push(hostOf(task.url), task);
    return true;
  }

  #follow(links: string[], from: Task): void {
    const { maxDepth, allowHosts } = this.#crawl.options;
    if (from.depth >= maxDepth) return;
    for (const url of links) {
      if (!url.startsWith("http") || this.#seen.has(url) || looksLikeNonPage(url)) continue;
      if (!onSite(url, from.site, allowHosts)) {
        if (!this.#offSite.has(url)) this.#offSite.add(url), this.stats.offSite++;
        continue;
      }
      if (!this.#enqueue({ url, depth: from.depth + 1, site: from.site })) return;
    }
  }

  /** `release` frees the task's request slot once the request is done, so parsing does not hold it. */
  async #visit(task: Task, release: () => void): Promise<void> {
    if (this.#claimed.has(task.url)) return;
    this.#claimed.add(task.url);
    const verdict = await this.#robots.check(task.url);
    if (!verdict.allowed) return await this.#crawl.sink.failure({ url: task.url, reason: verdict.reason, detail: verdict.detail });
    if (verdict.crawlDelayMs > 0) this.#queues.raiseDelay(hostOf(task.url), verdict.crawlDelayMs);
    const r = await this.#fetch(task);
    if (this.#extractor.backlog < MAX_BACKLOG) release();
    this.stats.requests += r.chain.length;
    await this.#store(r, task);
  }

  /** The page, redirects vetted: off the site, already requested (skipped) or disallowed by robots.txt. */
  #fetch(task: Task): Promise<FetchResult> {
    const { options, signal, previous } = this.#crawl;
    return fetchPage(task.url, {
      userAgent: options.userAgent,
      timeoutMs: options.timeoutMs,
      maxBytes: options.maxBytes,
      signal,
      validators: (url) => previous.validators(url),
      beforeRedirect: async (next) => {
        if (!onSite(next, task.site, options.allowHosts)) {
          return { reason: "off_site", detail: `redirected to ${next}, off the site ${task.site} (scheme, host and port); allowHosts widens the site` };
        }
        if (this.#claimed.has(next)) return "skip";
        this.#claimed.add(next);
        this.#seen.add(next);
        const v = await this.#robots.check(next);
        return v.allowed ? undefined : { reason: v.reason, detail: v.detail };
      },
    });
  }

  /** What a fetch gave, into the sink; the page's links (or, for a 304, its stored ones) followed. */
  async #store(r: FetchResult, task: Task): Promise<void> {
    const { sink, previous } = this.#crawl;
    const via = r.chain.length > 1 ? ` (via ${r.chain.join(" → ")})` : "";
    switch (r.kind) {
      case "skipped":
        return;
      case "failed":
        return await sink.failure({ url: task.url, reason: r.reason, detail: CHAIN_IN_DETAIL.has(r.reason) ? r.detail : r.detail + via });
      case "not_modified": {
        this.stats.notModified++;
        this.stats.pages++;
        await sink.unchanged({ id: r.url, etag: r.validators.etag, lastModified: r.validators.lastModified });
        const links = previous.links.get(r.url) ?? [];
        await sink.links(r.url, links);
        return this.#follow(links, task);
      }
      case "ok": {
        const page = await this.#extractor.extract({ bytes: r.bytes, kind: r.textKind, charset: r.contentType.charset, url: r.url });
        if (!page.ok) return await sink.failure({ url: r.url, reason: page.reason, detail: page.detail + via });
        const doc = page.doc;
        const links = doc.links.filter((l) => l.startsWith("http"));
        await sink.links(r.url, links);
        if (doc.noindex) {
          await sink.failure({ url: r.url, reason: "robots", detail: `<meta name="robots"> says noindex${via}` });
        } else if (doc.text === "") {
          await sink.failure({ url: r.url, reason: "empty", detail: `no text in ${r.bytes.length} bytes of ${r.textKind}${via}` });
        } else {
          this.stats.pages++;
          await sink.document({
            id: r.url, url: r.url, title: doc.title, text: doc.text, bytes: r.bytes.length,
            etag: r.validators.etag, lastModified: r.validators.lastModified, hash: page.hash,
          });
        }
        return this.#follow(links, task);
      }
    }
  }
}
