/**
 * The crawl_seeds cell: documents from the `seeds` param — web sites (robots.txt,
 * politeness, redirects, limits, charsets, conditional re-crawls), local
 * folders of pages, markdown and text, and JSONL datasets — into the `crawled`
 * table; every URL, file or line that failed into `crawl_failures` with its
 * reason; page links into `crawl_links` (what a re-crawl follows for pages
 * answered 304). Failures of single URLs never fail the cell; bad seeds or an
 * empty corpus do. It reads the outside world: use it with `cache: false`.
 *
 * Params: `crawlParams` (seeds, maxDepth, maxPages, perHostConcurrency, perHostDelayMs,
 * timeoutMs, maxBytes, userAgent, allowHosts, seedsFile), each with its default and bounds.
 *
 * @example
 * ```ts
 * import { pipeline } from "../kernel/mod.ts";
 * import { crawlSeeds } from "./crawl.ts";
 *
 * pipeline({ id: "ingest", params: { seeds: "https://www.postgresql.org/docs/current/", maxDepth: 2 } })
 *   .cell("crawl_seeds", { cache: false }, crawlSeeds);
 * // output: { documents: TableRef, failures: TableRef, links: TableRef, fetched: 812, unchanged: 0, failed: 3 }
 * ```
 */
import { accepts, CellarError, cellParams, type Context, nonEmptyText, oneOf, wholeNumber, z } from "../kernel/mod.ts";
import { crawlHttp } from "./crawl/http.ts";
import { readJsonl } from "./crawl/jsonl.ts";
import { crawlLocal } from "./crawl/local.ts";
import { Previous } from "./crawl/previous.ts";
import { Budget, Progress } from "./crawl/progress.ts";
import { resolveSeeds } from "./crawl/seeds.ts";
import { normalizeAllowedHost } from "./crawl/url.ts";
import { type CrawlOutput, Sink } from "./crawl/sink.ts";
import type { CrawlOptions } from "./crawl/types.ts";

export type { CrawlOutput } from "./crawl/sink.ts";

const DEFAULT_SEEDS = "pipelines/data/cranfield/docs.jsonl";

/** allowHosts: a comma-separated string or a list, each entry normalized (normalizeAllowedHost) or refused. */
const allowHosts = accepts(
  "host names, host:port, origins or *.domain, comma-separated",
  z.union([z.string(), z.array(z.string())]).transform((raw, check) => {
    const hosts: string[] = [];
    for (const entry of typeof raw === "string" ? raw.split(",") : raw) {
      if (entry.trim() === "") continue;
      const host = normalizeAllowedHost(entry);
      if (!host) {
        check.issues.push({ code: "custom", message: `not a host: ${JSON.stringify(entry)}`, input: raw });
        return z.NEVER;
      }
      hosts.push(host);
    }
    return hosts;
  }),
);

/** crawl_seeds' params: their defaults are what a pipeline spreads into its own (CRAWL_PARAMS). */
export const crawlParams = cellParams({
  seeds: accepts(
    "a seeds file or a comma-separated list of seeds (http(s) URLs, local folders and files, .jsonl datasets)",
    z.union([z.string(), z.array(z.string())]),
  ).default(DEFAULT_SEEDS).describe("what to crawl: URLs, local folders or files, JSONL datasets, or a file listing them"),
  maxDepth: wholeNumber(0).default(3).describe("links followed away from a seed page"),
  maxPages: wholeNumber(1).default(10_000).describe("pages and local files read at most, over all seeds"),
  perHostConcurrency: wholeNumber(1).default(4).describe("requests in flight to one host"),
  perHostDelayMs: wholeNumber(0).default(0).describe("wait between two requests to one host, in milliseconds"),
  timeoutMs: wholeNumber(1).default(10_000).describe("time allowed for one request, in milliseconds"),
  maxBytes: wholeNumber(1).default(10_485_760).describe("largest body read; a larger one is recorded as too_large"),
  userAgent: nonEmptyText().default("CellarBot/0.1").describe("the User-Agent sent, and the agent robots.txt rules are matched for"),
  allowHosts: allowHosts.prefault("").describe("hosts that count as on the site besides each seed's origin"),
  seedsFile: oneOf(["auto", "list", "document"]).default("auto")
    .describe("how a named .txt file is read: by the rule (auto), as a seeds list, or as a document"),
});

export const CRAWL_PARAMS = crawlParams.defaults;

export async function crawlSeeds(ctx: Context, _input?: unknown): Promise<CrawlOutput> {
  const { seeds: given, seedsFile, ...crawl } = crawlParams.read(ctx.params);
  const options: CrawlOptions = crawl;
  const seeds = await resolveSeeds(given, seedsFile);
  const previous = await Previous.load(ctx);
  const sink = await Sink.open(ctx, previous);
  const progress = new Progress((done, total) => ctx.progress(done, total));
  const budget = new Budget(options.maxPages);
  const t0 = performance.now();

  for (const seed of seeds) {
    if (seed.kind !== "jsonl") continue;
    const before = sink.counts.failed;
    const { documents, lines } = await readJsonl(seed, { sink, signal: ctx.signal, progress });
    ctx.log.info(`${seed.given}: ${documents} documents from ${lines} lines, ${sink.counts.failed - before} failed`);
  }

  const local = seeds.flatMap((s) => (s.kind === "local" ? [s] : []));
  if (local.length > 0) {
    const before = sink.counts.failed;
    const { pages } = await crawlLocal(local, { options, signal: ctx.signal, sink, budget, progress });
    ctx.log.info(`${local.map((s) => s.given).join(", ")}: ${pages} local documents, ${sink.counts.failed - before} failed`);
  }

  const web = seeds.flatMap((s) => (s.kind === "http" ? [s.url] : []));
  if (web.length > 0) {
    const before = sink.counts.failed;
    const started = performance.now();
    const stats = await crawlHttp(web, { options, signal: ctx.signal, sink, previous, budget, progress });
    const seconds = (performance.now() - started) / 1000;
    ctx.log.info(
      `${web.join(", ")}: ${stats.pages} pages (${stats.notModified} not modified) from ${stats.requests} requests, ` +
        `${sink.counts.failed - before} failed, in ${seconds.toFixed(1)} s (${(stats.pages / Math.max(seconds, 1e-3)).toFixed(0)} pages/s)`,
    );
    if (stats.offSite > 0) {
      ctx.log.info(`${stats.offSite} links off the site (another scheme, host or port) not followed; allowHosts widens the site`);
    }
  }
  if (budget.exhausted) ctx.log.warn(`maxPages ${options.maxPages} reached: links beyond it were not followed`);
  progress.flush();

  const output = await sink.finish();
  const reasons = [...sink.reasons].sort((a, b) => b[1] - a[1]).map(([r, n]) => `${r} ${n}`).join(", ");
  const summary = `${output.fetched + output.unchanged} documents (${sink.counts.new} new, ${sink.counts.changed} changed, ` +
    `${output.unchanged} unchanged), ${output.failed} failures${reasons ? ` (${reasons})` : ""} ` +
    `from ${seeds.length} seed${seeds.length === 1 ? "" : "s"} in ${((performance.now() - t0) / 1000).toFixed(1)} s`;
  if (output.fetched + output.unchanged === 0) {
    // The cell fails, so crawl_failures rolls back; the log is committed apart from the cell, so each failure is
    // kept there for `cellar show <run> --logs` and SQL on the run's log lines.
    for (const f of sink.firstFailures) ctx.log.warn(`failed: ${f.url}: ${f.reason} (${f.detail})`);
    const unlogged = output.failed - sink.firstFailures.length;
    if (unlogged > 0) ctx.log.warn(`failed: ${unlogged} more not listed`);
    const first = sink.firstFailures.slice(0, 5).map((f) => `${f.url}: ${f.reason} (${f.detail})`).join("; ");
    throw new CellarError(
      `crawl_seeds: nothing was fetched: ${summary}` + (first ? `; first failures: ${first}` : "") + "; check the seeds",
    );
  }
  ctx.log.info(summary);
  return output;
}
