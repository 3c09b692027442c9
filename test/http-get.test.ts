// runtime.httpGet on Node (node:http, chosen over undici's fetch for its CPU cost per request) against a real
// server on 127.0.0.1: bodies decoded from gzip, deflate and br; redirects returned, not followed; repeated
// headers joined; connections kept alive; an abort mid-body ends the read.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runtime } from "../kernel/runtime/mod.ts";

const TEXT = "Crawled text, ".repeat(2_000);
let server: Server;
let base: string;
const sockets = new Set<unknown>();

beforeAll(async () => {
  server = createServer((req, res) => {
    const encoders: Record<string, (b: Buffer) => Buffer> = { "/gzip": gzipSync, "/deflate": deflateSync, "/br": brotliCompressSync };
    const encode = encoders[req.url ?? ""];
    if (encode) {
      res.writeHead(200, { "content-encoding": req.url!.slice(1), "content-type": "text/plain" });
      return res.end(encode(Buffer.from(TEXT)));
    }
    if (req.url === "/redirect") return res.writeHead(302, { location: "/gzip" }).end();
    if (req.url === "/not-modified") return res.writeHead(304, { etag: '"v1"' }).end();
    if (req.url === "/headers") {
      res.setHeader("x-seen", ["one", "two"]);
      return res.end(String(req.headers["user-agent"]));
    }
    if (req.url === "/stall") {
      res.writeHead(200, { "content-type": "text/plain" });
      return res.write("a first part, then nothing"); // never ended
    }
    res.end("plain");
  });
  server.on("connection", (socket) => sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function text(body: AsyncIterable<Uint8Array>): Promise<string> {
  const parts: Uint8Array[] = [];
  for await (const part of body) parts.push(part);
  return Buffer.concat(parts).toString("utf8");
}

const init = () => ({ headers: { "user-agent": "CellarTest/1" }, signal: new AbortController().signal });

describe("runtime.httpGet", () => {
  it("decodes gzip, deflate and br bodies, and says which encoding came", async () => {
    for (const encoding of ["gzip", "deflate", "br"]) {
      const r = await runtime.httpGet(`${base}/${encoding}`, init());
      expect(r.status).toBe(200);
      expect(r.header("content-encoding")).toBe(encoding);
      expect(await text(r.body)).toBe(TEXT);
    }
  });

  it("returns a redirect instead of following it, sends the given headers and joins repeated ones", async () => {
    const r = await runtime.httpGet(`${base}/redirect`, init());
    expect([r.status, r.header("location")]).toEqual([302, "/gzip"]);
    await r.cancel();
    const h = await runtime.httpGet(`${base}/headers`, init());
    expect(h.header("X-Seen")).toBe("one, two");
    expect(h.header("x-absent")).toBeNull();
    expect(await text(h.body)).toBe("CellarTest/1");
  });

  it("keeps connections alive across sequential requests", async () => {
    const before = sockets.size;
    for (let i = 0; i < 20; i++) expect(await text((await runtime.httpGet(`${base}/plain`, init())).body)).toBe("plain");
    expect(sockets.size - before).toBeLessThanOrEqual(1);
  });

  it("keeps the connection when a bodiless answer (304) is cancelled, as a re-crawl does for every page", async () => {
    const before = sockets.size;
    for (let i = 0; i < 20; i++) {
      const r = await runtime.httpGet(`${base}/not-modified`, init());
      expect(r.status).toBe(304);
      await r.cancel();
    }
    expect(sockets.size - before).toBeLessThanOrEqual(1);
  });

  it("ends a stalled body when the signal aborts", async () => {
    const controller = new AbortController();
    const r = await runtime.httpGet(`${base}/stall`, { headers: {}, signal: controller.signal });
    setTimeout(() => controller.abort(new Error("deadline")), 100);
    const t0 = performance.now();
    await expect(text(r.body)).rejects.toThrow();
    expect(performance.now() - t0).toBeLessThan(2_000);
  });

  it("refuses a URL that is not http(s)", async () => {
    await expect(runtime.httpGet("file:///etc/passwd", init())).rejects.toThrow(/expected an http: or https: URL/);
  });
});
