/**
 * What the crawler's parts share: its options (the cell's params, checked)
 * and the reasons a URL can fail, as stored in the `crawl_failures` table.
 *
 * @example
 * ```ts
 * import type { Failure } from "./types.ts";
 *
 * const failure: Failure = { url: "https://x.org/big", reason: "too_large", detail: "more than 10485760 bytes" };
 * ```
 */

export type Reason =
  | "http_status"
  | "timeout"
  | "connect"
  | "dns"
  | "tls"
  | "network"
  | "robots"
  | "too_large"
  | "undecodable"
  | "not_text"
  | "empty"
  | "redirect_loop"
  | "too_many_redirects"
  | "bad_redirect"
  | "not_found"
  | "not_a_file"
  | "off_site"
  | "unreadable"
  | "invalid_json"
  | "invalid_record"
  | "duplicate_id";

export interface Failure {
  url: string;
  reason: Reason;
  detail: string;
}

export interface CrawlOptions {
  maxDepth: number;
  maxPages: number;
  perHostConcurrency: number;
  perHostDelayMs: number;
  timeoutMs: number;
  maxBytes: number;
  userAgent: string;
  /** Hosts that count as on the site besides each seed's origin (see onSite in url.ts). */
  allowHosts: string[];
}
