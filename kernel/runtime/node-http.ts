/**
 * Node's `runtime.httpGet`: a GET over node:http / node:https on kept-alive
 * connections, its body decompressed (gzip, deflate, br) and streamed. It
 * exists because undici's `fetch` costs about three times the CPU of
 * node:http per request, and a crawl's event loop is bound by that; Deno's
 * `fetch` is native and is used as is there.
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
import { Agent as HttpAgent, type IncomingMessage, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { Readable } from "node:stream";
import { createBrotliDecompress, createGunzip, createInflate } from "node:zlib";
import type { HttpGetInit, HttpResponse } from "./types.ts";

// One pool per protocol; the crawler bounds requests per host itself.
const agents = {
  "http:": new HttpAgent({ keepAlive: true }),
  "https:": new HttpsAgent({ keepAlive: true }),
};

export function httpGet(url: string, init: HttpGetInit): Promise<HttpResponse> {
  const target = new URL(url);
  const protocol = target.protocol as keyof typeof agents;
  if (!(protocol in agents)) return Promise.reject(new TypeError(`httpGet ${url}: expected an http: or https: URL`));
  const headers = { "accept-encoding": "gzip, deflate, br", ...init.headers };
  const request = protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(target, { method: "GET", headers, agent: agents[protocol], signal: init.signal }, (res) => {
      resolve(answer(res));
    });
    req.on("error", reject);
    req.end();
  });
}

function answer(res: IncomingMessage): HttpResponse {
  const body = decoded(res);
  return {
    status: res.statusCode ?? 0,
    statusText: res.statusMessage ?? "",
    header(name) {
      const value = res.headers[name.toLowerCase()];
      return value === undefined ? null : Array.isArray(value) ? value.join(", ") : value;
    },
    body,
    cancel() {
      // A response with nothing left to read (a 304, a 204, an empty body) only needs draining: destroying
      // it would close a keep-alive connection, and a re-crawl answered 304 would then connect once a page.
      if (res.complete || res.headers["content-length"] === "0" || res.statusCode === 304 || res.statusCode === 204) {
        res.resume();
        return Promise.resolve();
      }
      res.destroy();
      if (body !== res) body.destroy();
      return Promise.resolve();
    },
  };
}

/** The body through the decoder its Content-Encoding names; an encoding we do not know passes as is. */
function decoded(res: IncomingMessage): Readable {
  const encoding = (res.headers["content-encoding"] ?? "").trim().toLowerCase();
  const decoder = encoding === "gzip" || encoding === "x-gzip" ? createGunzip()
    : encoding === "deflate" ? createInflate()
    : encoding === "br" ? createBrotliDecompress()
    : undefined;
  if (!decoder) return res;
  // Errors on either side end the decoded stream, so whoever iterates it hears them.
  res.on("error", (err) => decoder.destroy(err));
  return res.pipe(decoder);
}
