/**
 * The crawl_seeds cell: documents from the `seeds` param — web sites (robots.txt,
 * politeness, redirects, limits, charsets, conditional re-crawls), local
 * folders of pages, markdown and text, and JSONL datasets — into the `crawled`
 * table; every URL, file or line that failed into `crawl_failures` with its
 * reason; page links into `crawl_links` (what a re-crawl follows for pages
 * answered 304). Failures of single URLs never fail the cell; bad seeds or an
 * empty corpus do. It reads the outside world: use it with `cache: false`.
 *
 * Params (defaults in brackets): seeds ["pipelines/data/cranfield/docs.jsonl"],
 * maxDepth [3], maxPages [10000], perHostConcurrency [4], perHostDelayMs [0],
 * timeoutMs [10000], maxBytes [10485760], userAgent ["CellarBot/0.1"], allowHosts [none: each
 * seed's origin is its site], seedsFile ["auto": how a named .txt file is read, see seeds.ts].
 *
 * @example
 * pipeline({ id: "ingest", params: { seeds: "https://www.postgresql.org/docs/current/", maxDepth: 2 } })
 *   .cell("crawl_seeds", { cache: false }, crawlSeeds);
 * // output: { documents: TableRef, failures: TableRef, links: TableRef, fetched: 812, unchanged: 0, failed: 3 }
 */
import { CellarError, type Context } from "../kernel/mod.ts";
import { crawlHttp } from "./crawl/http.ts";
import { readJsonl } from "./crawl/jsonl.ts";
import { crawlLocal } from "./crawl/local.ts";
import { Previous } from "./crawl/previous.ts";
import { Budget, Progress } from "./crawl/progress.ts";
import { resolveSeeds, type SeedsFileMode } from "./crawl/seeds.ts";
import { normalizeAllowedHost } from "./crawl/url.ts";
import { type CrawlOutput, Sink } from "./crawl/sink.ts";
import { type CrawlOptions, DEFAULT_OPTIONS } from "./crawl/types.ts";

export type { CrawlOutput } from "./crawl/sink.ts";

export const DEFAULT_SEEDS = "pipelines/data/cranfield/docs.jsonl";

export async function crawlSeeds(ctx: Context, _input?: unknown): Promise<CrawlOutput> {
  const options = readOptions(ctx.params);
  const seedsFile = ctx.params.seedsFile ?? "auto";
  if (seedsFile !== "auto" && seedsFile !== "list" && seedsFile !== "document") {
    throw new CellarError(`param seedsFile: expected "auto", "list" or "document", got ${JSON.stringify(seedsFile)}`);
  }
  const seeds = await resolveSeeds(ctx.params.seeds ?? DEFAULT_SEEDS, seedsFile as SeedsFileMode);
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
    // kept there for `cellar show <run> --logs` and SQL (SELECT message FROM logs WHERE run_id = ...).
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

/** The crawl's params, checked; a bad value fails the cell naming the param. */
function readOptions(params: Readonly<Record<string, unknown>>): CrawlOptions {
  const whole = (name: keyof CrawlOptions, min: number): number => {
    const raw = params[name] ?? DEFAULT_OPTIONS[name];
    const n = typeof raw === "string" && raw.trim() !== "" ? Number(raw) : raw;
    if (typeof n !== "number" || !Number.isInteger(n) || n < min) {
      throw new CellarError(`param ${name}: expected a whole number ≥ ${min}, got ${JSON.stringify(raw)}`);
    }
    return n;
  };
  const userAgent = params.userAgent ?? DEFAULT_OPTIONS.userAgent;
  if (typeof userAgent !== "string" || userAgent.trim() === "") {
    throw new CellarError(`param userAgent: expected a non-empty string, got ${JSON.stringify(userAgent)}`);
  }
  return {
    maxDepth: whole("maxDepth", 0),
    maxPages: whole("maxPages", 1),
    perHostConcurrency: whole("perHostConcurrency", 1),
    perHostDelayMs: whole("perHostDelayMs", 0),
    timeoutMs: whole("timeoutMs", 1),
    maxBytes: whole("maxBytes", 1),
    userAgent,
    allowHosts: readAllowHosts(params.allowHosts),
  };
}

/** allowHosts: a comma-separated string or a list of host names, host:port, origins or *.domain. */
function readAllowHosts(raw: unknown): string[] {
  if (raw === undefined || raw === null || raw === "") return [];
  const entries = Array.isArray(raw) ? raw : typeof raw === "string" ? raw.split(",") : undefined;
  const bad = (): never => {
    throw new CellarError(`param allowHosts: expected host names, host:port, origins or *.domain, comma-separated, got ${JSON.stringify(raw)}`);
  };
  if (!entries) return bad();
  return entries.filter((e) => typeof e !== "string" || e.trim() !== "").map((e) => (typeof e === "string" && normalizeAllowedHost(e)) || bad());
}
