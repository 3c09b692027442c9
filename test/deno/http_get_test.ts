// runtime.httpGet on Deno (its fetch): a gzip body decoded, a redirect returned rather than followed.
import { runtime } from "../../kernel/runtime/mod.ts";

const TEXT = "Crawled text, ".repeat(2_000);

Deno.test("httpGet decodes gzip and does not follow redirects", async () => {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    if (new URL(req.url).pathname === "/redirect") return new Response(null, { status: 302, headers: { location: "/gzip" } });
    const gzipped = await new Response(new Blob([TEXT]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer();
    return new Response(gzipped, { headers: { "content-encoding": "gzip", "content-type": "text/plain" } });
  });
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    const signal = new AbortController().signal;
    const r = await runtime.httpGet(`${base}/gzip`, { headers: { "user-agent": "CellarTest/1" }, signal });
    const decoder = new TextDecoder();
    let body = "";
    for await (const part of r.body) body += decoder.decode(part, { stream: true });
    body += decoder.decode();
    if (r.status !== 200 || body !== TEXT) throw new Error(`got ${r.status} and ${body.length} characters`);
    const redirect = await runtime.httpGet(`${base}/redirect`, { headers: {}, signal });
    await redirect.cancel();
    if (redirect.status !== 302 || redirect.header("location") !== "/gzip") throw new Error(`redirect: ${redirect.status}`);
  } finally {
    await server.shutdown();
  }
});
