/**
 * Node's `runtime.httpGet`: a GET through undici's dispatcher API (`Agent.request`) on kept-alive
 * connections, its body decompressed (gzip, deflate, br) and streamed. It exists because a crawl's main
 * thread is bound by the client's CPU per request: undici's WHATWG `fetch` cost about 0.8 ms of CPU a
 * request over the PostgreSQL manual, node:http about 0.2–0.3 ms, undici's `request` about 0.1 ms (it
 * skips fetch's Request/Response/Headers objects and node:http's ClientRequest, agent and URL parsing).
 * Deno's `fetch` is native and is used as is there.
 *
 * @example
 * ```ts
 * import { httpGet } from "./node-http.ts";
 * declare const signal: AbortSignal;
 *
 * const r = await httpGet("http://127.0.0.1:8080/", { headers: { "user-agent": "CellarBot/0.1" }, signal });
 * if (r.status === 200) for await (const bytes of r.body) console.log(bytes.length);
 * ```
 */
import { STATUS_CODES } from "node:http";
import type { Readable } from "node:stream";
import { createBrotliDecompress, createGunzip, createInflate } from "node:zlib";
import { Agent } from "undici";
import type { HttpGetInit, HttpResponse } from "./types.ts";

// One connection pool per origin; the crawler bounds requests per host itself. undici's own header and
// body timeouts (300 s) stay above any the crawler sets, which aborts through the signal.
const agent = new Agent({ keepAliveTimeout: 10_000 });

/** `http(s)://host[:port]` and the rest of a URL, split without a URL parser (the crawler's URLs are normalized). */
const ORIGIN = /^(https?:\/\/[^/?#]+)([^#]*)/i;

export async function httpGet(url: string, init: HttpGetInit): Promise<HttpResponse> {
  const parts = ORIGIN.exec(url);
  if (parts === null) throw new TypeError(`httpGet ${url}: expected an http: or https: URL`);
  const headers = { "accept-encoding": "gzip, deflate, br", ...init.headers };
  const res = await agent.request({ origin: parts[1], path: parts[2] || "/", method: "GET", headers, signal: init.signal });
  return answer(res);
}

type UndiciResponse = Awaited<ReturnType<Agent["request"]>>;

function answer(res: UndiciResponse): HttpResponse {
  const body = decoded(res);
  return {
    status: res.statusCode,
    statusText: STATUS_CODES[res.statusCode] ?? "",
    header(name) {
      const value = res.headers[name.toLowerCase()];
      return value === undefined ? null : Array.isArray(value) ? value.join(", ") : value;
    },
    body,
    cancel() {
      // A response with nothing left to read (a 304, a 204, an empty body) only needs draining: destroying
      // it would close a keep-alive connection, and a re-crawl answered 304 would then connect once a page.
      const raw = res.body as unknown as Readable;
      if (raw.readableEnded || res.headers["content-length"] === "0" || res.statusCode === 304 || res.statusCode === 204) {
        raw.resume();
        return Promise.resolve();
      }
      // Destroyed unread, undici's body emits an AbortError: nobody reads it now, so it must not go unhandled.
      raw.on("error", () => {});
      raw.destroy();
      if (body !== raw) body.on("error", () => {}).destroy();
      return Promise.resolve();
    },
  };
}

/** The body through the decoder its Content-Encoding names; an encoding we do not know passes as is. */
function decoded(res: UndiciResponse): Readable {
  const raw = res.body as unknown as Readable;
  const header = res.headers["content-encoding"];
  const encoding = (Array.isArray(header) ? header.join(",") : header ?? "").trim().toLowerCase();
  const decoder = encoding === "gzip" || encoding === "x-gzip" ? createGunzip()
    : encoding === "deflate" ? createInflate()
    : encoding === "br" ? createBrotliDecompress()
    : undefined;
  if (!decoder) return raw;
  // Errors on either side end the decoded stream, so whoever iterates it hears them.
  raw.on("error", (err) => decoder.destroy(err));
  return raw.pipe(decoder);
}
