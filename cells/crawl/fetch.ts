/**
 * One page over HTTP, politely and defensively: redirects followed by hand (at
 * most 5, loops detected, each target vetted by the caller, e.g. for
 * robots.txt), a time limit per request covering connect, headers and body
 * (one timer per request, aborting with the cell's signal too), the body streamed and
 * cut off at `maxBytes`, only text types read, and conditional requests
 * (If-None-Match / If-Modified-Since) from a previous crawl's validators.
 *
 * A failure comes back as a value with a reason; only the cell's own abort
 * (timeout or cancellation of the cell) is thrown.
 *
 * @example
 * ```ts
 * import { fetchPage } from "./fetch.ts";
 *
 * declare const signal: AbortSignal;
 * const r = await fetchPage("https://example.com/", { userAgent: "CellarBot/0.1", timeoutMs: 10_000, maxBytes: 1 << 20, signal });
 * if (r.kind === "ok") console.log(r.url, r.bytes.length, r.textKind);
 * ```
 */
import { parseContentType, textKind as kindOf, type ContentType, type TextKind } from "./content-type.ts";
import { looksLikeHtml } from "./decode.ts";
import type { Reason } from "./types.ts";
import { type HttpResponse, runtime } from "../../kernel/mod.ts";
import { normalizeUrl } from "./url.ts";

const MAX_REDIRECTS = 5;

export interface Validators {
  etag?: string;
  lastModified?: string;
}

export interface FetchOptions {
  userAgent: string;
  timeoutMs: number;
  maxBytes: number;
  /** The cell's signal: its abort is thrown, not reported as a failure. */
  signal: AbortSignal;
  /** Validators from the previous crawl of a URL; sent as conditional headers. */
  validators?: (url: string) => Validators | undefined;
  /** Vets a redirect target before it is requested: a failure ends the chain, "skip" drops it silently. */
  beforeRedirect?: (url: string) => Promise<{ reason: Reason; detail: string } | "skip" | undefined>;
  /** Any content type is read as plain text, and a body over maxBytes is cut instead of failing (robots.txt). */
  lenient?: boolean;
}

interface Common {
  /** The URL the result is for: the last one in the redirect chain. */
  url: string;
  /** Every URL requested, in order (the first is the one asked for). */
  chain: string[];
}

export type FetchResult =
  | Common & {
    kind: "ok";
    status: number;
    bytes: Uint8Array;
    contentType: ContentType;
    textKind: TextKind;
    validators: Validators;
  }
  | Common & { kind: "not_modified"; validators: Validators }
  | Common & { kind: "failed"; reason: Reason; detail: string; status?: number }
  | Common & { kind: "skipped" };

const ACCEPT = "text/html,application/xhtml+xml,text/markdown;q=0.9,text/plain;q=0.9,*/*;q=0.1";

export async function fetchPage(url: string, options: FetchOptions): Promise<FetchResult> {
  const chain = [url];
  let current = url;
  for (;;) {
    const conditional = options.validators?.(current);
    const headers: Record<string, string> = { "user-agent": options.userAgent, accept: options.lenient ? "text/plain,*/*;q=0.5" : ACCEPT };
    if (conditional?.etag) headers["if-none-match"] = conditional.etag;
    if (conditional?.lastModified) headers["if-modified-since"] = conditional.lastModified;

    options.signal.throwIfAborted();
    const timeout = new RequestTimer(options.signal, options.timeoutMs);
    try {
      const r = await attempt(current, chain, headers, conditional, options, timeout);
      if (r.kind === "redirect") {
        current = r.next;
        continue;
      }
      return r;
    } finally {
      timeout.clear();
    }
  }
}

/**
 * One request's time limit and the cell's abort on one AbortController, with one timer (cheaper than
 * `AbortSignal.timeout` joined by `AbortSignal.any` for every request).
 */
class RequestTimer {
  readonly #controller = new AbortController();
  readonly #timer: ReturnType<typeof setTimeout>;
  readonly #onAbort = () => this.#controller.abort(this.parent.reason);
  timedOut = false;

  constructor(private readonly parent: AbortSignal, timeoutMs: number) {
    this.#timer = setTimeout(() => {
      this.timedOut = true;
      this.#controller.abort(new DOMException(`no response within ${timeoutMs} ms`, "TimeoutError"));
    }, timeoutMs);
    parent.addEventListener("abort", this.#onAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  clear(): void {
    clearTimeout(this.#timer);
    this.parent.removeEventListener("abort", this.#onAbort);
  }
}

type Step = FetchResult | { kind: "redirect"; next: string };

/** One request of the chain: a result, or the redirect target to request next. */
async function attempt(
  current: string,
  chain: string[],
  headers: Record<string, string>,
  conditional: Validators | undefined,
  options: FetchOptions,
  timeout: RequestTimer,
): Promise<Step> {
  let response: HttpResponse;
  try {
    response = await runtime.httpGet(current, { headers, signal: timeout.signal });
  } catch (err) {
    options.signal.throwIfAborted();
    const failure = timeout.timedOut ? { reason: "timeout" as const, detail: `no response within ${options.timeoutMs} ms` } : networkFailure(err);
    return { kind: "failed", url: current, chain, ...failure };
  }
  const { status } = response;
  if (status >= 300 && status < 400 && status !== 304) return await redirect(response, current, chain, options);
  const validators: Validators = {
    etag: response.header("etag") ?? conditional?.etag,
    lastModified: response.header("last-modified") ?? conditional?.lastModified,
  };
  if (status === 304 && conditional) {
    await response.cancel();
    return { kind: "not_modified", url: current, chain, validators };
  }
  if (status < 200 || status >= 300 || status === 204 || status === 206) {
    return await refuse(response, current, chain, "http_status", `${status} ${response.statusText}`.trim());
  }
  return await readPage(response, current, chain, validators, options, timeout);
}

/** A failure that drops the rest of the response. */
async function refuse(response: HttpResponse, url: string, chain: string[], reason: Reason, detail: string): Promise<FetchResult> {
  await response.cancel();
  return { kind: "failed", url, chain, reason, detail, status: response.status };
}

/** A 3xx answer: the next URL to request, once it is checked (a URL, no loop, not too many hops, vetted by the caller). */
async function redirect(response: HttpResponse, current: string, chain: string[], options: FetchOptions): Promise<Step> {
  const url = chain[0];
  const { status } = response;
  const location = response.header("location");
  if (location === null) return await refuse(response, current, chain, "http_status", `${status} ${response.statusText} without a Location header`);
  const next = normalizeUrl(location, current);
  if (next === undefined || next.startsWith("file:")) {
    return await refuse(response, current, chain, "bad_redirect", `${status} to ${JSON.stringify(location)}, not an http(s) URL`);
  }
  await response.cancel();
  if (chain.includes(next)) return { kind: "failed", url, chain, reason: "redirect_loop", detail: [...chain, next].join(" → ") };
  if (chain.length > MAX_REDIRECTS) {
    return {
      kind: "failed", url, chain, reason: "too_many_redirects",
      detail: `more than ${MAX_REDIRECTS} redirects: ${[...chain, next].join(" → ")}`,
    };
  }
  const verdict = await options.beforeRedirect?.(next);
  chain.push(next);
  if (verdict === "skip") return { kind: "skipped", url: next, chain };
  if (verdict) return { kind: "failed", url: next, chain, ...verdict };
  return { kind: "redirect", next };
}

/** A 2xx answer's body, if it is text of an allowed size (sniffed as HTML when nothing says what it is). */
async function readPage(
  response: HttpResponse,
  current: string,
  chain: string[],
  validators: Validators,
  options: FetchOptions,
  timeout: RequestTimer,
): Promise<FetchResult> {
  const contentType = parseContentType(response.header("content-type"));
  let kind: TextKind | undefined = options.lenient ? "plain" : kindOf(contentType.type, current);
  if (kind === undefined && contentType.type !== "") return await refuse(response, current, chain, "not_text", `content type ${contentType.type}`);
  const length = Number(response.header("content-length") ?? NaN);
  const encoded = (response.header("content-encoding") ?? "identity") !== "identity";
  if (!options.lenient && !encoded && length > options.maxBytes) {
    return await refuse(response, current, chain, "too_large", `Content-Length ${length} is over maxBytes ${options.maxBytes}`);
  }
  let body: Uint8Array | undefined;
  try {
    body = await readBody(response, options.maxBytes, options.lenient === true);
  } catch (err) {
    options.signal.throwIfAborted();
    const failure = timeout.timedOut ? { reason: "timeout" as const, detail: `body not complete within ${options.timeoutMs} ms` } : networkFailure(err);
    return { kind: "failed", url: current, chain, ...failure };
  }
  if (body === undefined) {
    return { kind: "failed", url: current, chain, reason: "too_large", detail: `body is over maxBytes ${options.maxBytes}; stopped reading` };
  }
  if (kind === undefined) {
    // No Content-Type and no telling extension: sniff, as browsers do.
    if (!looksLikeHtml(body)) return { kind: "failed", url: current, chain, reason: "not_text", detail: "no Content-Type and not recognizable as HTML" };
    kind = "html";
  }
  return { kind: "ok", url: current, chain, status: response.status, bytes: body, contentType, textKind: kind, validators };
}

/**
 * The body, or undefined when it is longer than `max` (reading stops there and the connection is
 * dropped); with `truncate`, its first `max` bytes instead.
 */
async function readBody(response: HttpResponse, max: number, truncate: boolean): Promise<Uint8Array | undefined> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const value of response.body) {
    if (total + value.length > max) {
      await response.cancel();
      if (!truncate) return undefined;
      chunks.push(value.subarray(0, max - total));
      total = max;
      break;
    }
    total += value.length;
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** A request error as a reason: Node puts an errno in `code` (or its cause's); Deno says it in the message. */
function networkFailure(err: unknown): { reason: Reason; detail: string } {
  const messages: string[] = [];
  let code = "";
  for (let e: unknown = err, i = 0; e && i < 5; e = (e as { cause?: unknown }).cause, i++) {
    if (e instanceof Error) messages.push(e.message);
    const c = (e as { code?: unknown }).code;
    if (typeof c === "string" && !code) code = c;
  }
  const text = `${code} ${messages.join(": ")}`;
  const detail = (code ? `${code}: ` : "") + (messages.at(-1) ?? String(err));
  if (/ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|EPIPE|refused|reset by peer/i.test(text)) return { reason: "connect", detail };
  if (/ENOTFOUND|EAI_AGAIN|dns error|failed to lookup|Name or service not known/i.test(text)) return { reason: "dns", detail };
  if (/CERT|SSL|TLS|certificate|handshake/i.test(text)) return { reason: "tls", detail };
  if (/TIMEOUT|timed out/i.test(text)) return { reason: "timeout", detail };
  return { reason: "network", detail };
}
