/**
 * robots.txt, fetched once per origin and read with robots-parser, answering
 * whether a URL may be crawled by our user agent and how long to wait between
 * requests (Crawl-delay). Unavailability follows RFC 9309: a 4xx answer
 * means no rules; a 5xx answer means the whole site is off limits for now; a
 * host that cannot be reached makes its pages fail for the same reason.
 *
 * @example
 * ```ts
 * import { RobotsCache } from "./robots.ts";
 *
 * declare const signal: AbortSignal;
 * const robots = new RobotsCache({ userAgent: "CellarBot/0.1", timeoutMs: 10_000, signal });
 * const verdict = await robots.check("https://example.com/private/x");
 * if (!verdict.allowed) console.log(verdict.reason, verdict.detail);
 * ```
 */
import robotsParserModule from "robots-parser";
import { fetchPage } from "./fetch.ts";
import type { Reason } from "./types.ts";

/** RFC 9309: crawlers must parse at least the first 500 KiB. */
const MAX_ROBOTS_BYTES = 500 * 1024;
/** A Crawl-delay above this is read as this: one page a minute is already very slow. */
const MAX_CRAWL_DELAY_MS = 60_000;

export type RobotsVerdict =
  | { allowed: true; crawlDelayMs: number }
  | { allowed: false; reason: Reason; detail: string };

interface Rules {
  isAllowed(url: string, ua?: string): boolean | undefined;
  getCrawlDelay(ua?: string): number | undefined;
}

// robots-parser is CommonJS whose module.exports is the function; its typings declare an ES default export.
const robotsParser = robotsParserModule as unknown as (url: string, text: string) => Rules;

type Entry =
  | { kind: "rules"; rules: Rules }
  | { kind: "all" }
  | { kind: "none"; reason: Reason; detail: string };

export class RobotsCache {
  #origins = new Map<string, Promise<Entry>>();

  constructor(private readonly options: { userAgent: string; timeoutMs: number; signal: AbortSignal }) {}

  async check(url: string): Promise<RobotsVerdict> {
    const origin = new URL(url).origin;
    let entry = this.#origins.get(origin);
    if (!entry) {
      entry = this.#load(origin);
      this.#origins.set(origin, entry);
    }
    const e = await entry;
    if (e.kind === "none") return { allowed: false, reason: e.reason, detail: e.detail };
    if (e.kind === "all") return { allowed: true, crawlDelayMs: 0 };
    const ua = this.options.userAgent;
    if (e.rules.isAllowed(url, ua) === false) {
      return { allowed: false, reason: "robots", detail: `disallowed by ${origin}/robots.txt for ${ua}` };
    }
    const delay = e.rules.getCrawlDelay(ua);
    return { allowed: true, crawlDelayMs: delay && delay > 0 ? Math.min(delay * 1000, MAX_CRAWL_DELAY_MS) : 0 };
  }

  async #load(origin: string): Promise<Entry> {
    const robotsUrl = `${origin}/robots.txt`;
    const r = await fetchPage(robotsUrl, {
      userAgent: this.options.userAgent,
      timeoutMs: this.options.timeoutMs,
      maxBytes: MAX_ROBOTS_BYTES,
      signal: this.options.signal,
      lenient: true,
    });
    if (r.kind === "ok") {
      const text = new TextDecoder("utf-8").decode(r.bytes);
      // Parsed as the origin's own file even when it was redirected (http → https), so its rules apply here.
      return { kind: "rules", rules: robotsParser(robotsUrl, text) };
    }
    if (r.kind === "failed" && r.status !== undefined) {
      if (r.status >= 500) {
        return { kind: "none", reason: "robots", detail: `${robotsUrl} answered ${r.status}: the site is off limits until it answers (RFC 9309)` };
      }
      return { kind: "all" };
    }
    if (r.kind === "failed" && (r.reason === "too_many_redirects" || r.reason === "redirect_loop" || r.reason === "bad_redirect")) {
      return { kind: "all" };
    }
    if (r.kind === "failed") return { kind: "none", reason: r.reason, detail: `${robotsUrl}: ${r.detail}` };
    return { kind: "all" };
  }
}
