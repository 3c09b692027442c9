/**
 * The web crawl: breadth-first from the seeds, following links on the seed's
 * site (its origin: scheme, host and port, widened by allowHosts; a redirect
 * off it is recorded as `off_site`) up to maxDepth links away and maxPages in
 * all; robots.txt obeyed (and its Crawl-delay); requests per host bounded and
 * spaced; every normalized URL requested at most once, redirects included.
 * A page answered 304 keeps its previous row, and its stored links are
 * followed as if it had been fetched.
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
import { decodeText } from "./decode.ts";
import { extractDocumentAsync } from "./extract.ts";
import { fetchPage, type FetchResult } from "./fetch.ts";
import { HostQueues } from "./hosts.ts";
import type { Previous } from "./previous.ts";
import type { Budget, Progress } from "./progress.ts";
import { RobotsCache } from "./robots.ts";
import type { Sink } from "./sink.ts";
import type { CrawlOptions } from "./types.ts";
import { hostOf, looksLikeNonPage, onSite, siteOf } from "./url.ts";

/** Requests in flight across all hosts. */
const GLOBAL_CONCURRENCY = 64;

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

export async function crawlHttp(seeds: string[], crawl: HttpCrawl): Promise<HttpStats> {
  const { options, signal, sink, previous, budget, progress } = crawl;
  const robots = new RobotsCache({ userAgent: options.userAgent, timeoutMs: options.timeoutMs, signal });
  /** URLs queued or requested: a link to one of them is not queued again. */
  const seen = new Set<string>();
  /** URLs requested, directly or as a redirect target: never requested twice. */
  const claimed = new Set<string>();
  const stats: HttpStats = { requests: 0, pages: 0, notModified: 0, offSite: 0 };
  /** Links off the site, counted once each. */
  const offSite = new Set<string>();

  const queues = new HostQueues<Task>(
    { perHost: options.perHostConcurrency, delayMs: options.perHostDelayMs, global: GLOBAL_CONCURRENCY, signal },
    async (task) => {
      try {
        await visit(task);
      } finally {
        progress.done();
      }
    },
  );

  const enqueue = (task: Task): boolean => {
    if (seen.has(task.url)) return true;
    if (!budget.take()) return false;
    seen.add(task.url);
    progress.found();
    queues.push(hostOf(task.url), task);
    return true;
  };

  const follow = (links: string[], from: Task): void => {
    if (from.depth >= options.maxDepth) return;
    for (const url of links) {
      if (!url.startsWith("http") || seen.has(url) || looksLikeNonPage(url)) continue;
      if (!onSite(url, from.site, options.allowHosts)) {
        if (!offSite.has(url)) offSite.add(url), stats.offSite++;
        continue;
      }
      if (!enqueue({ url, depth: from.depth + 1, site: from.site })) return;
    }
  };

  async function visit(task: Task): Promise<void> {
    if (claimed.has(task.url)) return;
    claimed.add(task.url);
    const verdict = await robots.check(task.url);
    if (!verdict.allowed) return await sink.failure({ url: task.url, reason: verdict.reason, detail: verdict.detail });
    if (verdict.crawlDelayMs > 0) queues.raiseDelay(hostOf(task.url), verdict.crawlDelayMs);

    const r: FetchResult = await fetchPage(task.url, {
      userAgent: options.userAgent,
      timeoutMs: options.timeoutMs,
      maxBytes: options.maxBytes,
      signal,
      validators: (url) => previous.validators(url),
      beforeRedirect: async (next) => {
        if (!onSite(next, task.site, options.allowHosts)) {
          return { reason: "off_site", detail: `redirected to ${next}, off the site ${task.site} (scheme, host and port); allowHosts widens the site` };
        }
        if (claimed.has(next)) return "skip";
        claimed.add(next);
        seen.add(next);
        const v = await robots.check(next);
        return v.allowed ? undefined : { reason: v.reason, detail: v.detail };
      },
    });
    stats.requests += r.chain.length;
    const via = r.chain.length > 1 ? ` (via ${r.chain.join(" → ")})` : "";

    switch (r.kind) {
      case "skipped":
        return;
      case "failed":
        return await sink.failure({ url: task.url, reason: r.reason, detail: CHAIN_IN_DETAIL.has(r.reason) ? r.detail : r.detail + via });
      case "not_modified": {
        stats.notModified++;
        stats.pages++;
        await sink.unchanged({ id: r.url, etag: r.validators.etag, lastModified: r.validators.lastModified });
        const links = previous.links.get(r.url) ?? [];
        await sink.links(r.url, links);
        return follow(links, task);
      }
      case "ok": {
        const decoded = decodeText(r.bytes, r.textKind, r.contentType.charset);
        if (!decoded.ok) return await sink.failure({ url: r.url, reason: decoded.reason, detail: decoded.detail + via });
        const doc = await extractDocumentAsync(r.textKind, decoded.text, r.url);
        const links = doc.links.filter((l) => l.startsWith("http"));
        await sink.links(r.url, links);
        if (doc.noindex) {
          await sink.failure({ url: r.url, reason: "robots", detail: `<meta name="robots"> says noindex${via}` });
        } else if (doc.text === "") {
          await sink.failure({ url: r.url, reason: "empty", detail: `no text in ${r.bytes.length} bytes of ${r.textKind}${via}` });
        } else {
          stats.pages++;
          await sink.document({
            id: r.url, url: r.url, title: doc.title, text: doc.text, bytes: r.bytes.length,
            etag: r.validators.etag, lastModified: r.validators.lastModified,
          });
        }
        return follow(links, task);
      }
    }
  }

  for (const url of seeds) enqueue({ url, depth: 0, site: siteOf(url) });
  await queues.idle();
  return stats;
}
