// The server under Deno (Deno.serve through the runtime adapter): the same app as under Node, over real
// HTTP on 127.0.0.1 — /healthz, a run triggered through the API and watched until it succeeds, a
// shutdown with a live-updates stream still open, and the token guard (bearer, login cookie, same origin).
// Run with: deno task test
import assert from "node:assert/strict";
import { startServer } from "../../server/serve.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

Deno.test({
  name: "the server answers /healthz and runs a triggered pipeline to success under Deno",
  // DuckDB's and the watcher's resources outlive the test by design; the server is closed at its end.
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "cellar-server-" });
    await Deno.writeTextFile(
      `${dir}/small.ts`,
      `import { pipeline } from ${JSON.stringify(`${ROOT}kernel/mod.ts`)};
export default pipeline({ id: "small" })
  .cell("make", (ctx) => {
    ctx.log.info("making");
    ctx.log.warn("made 3");
    return [1, 2, 3];
  })
  .cell("sum", (_ctx, xs: number[]) => xs.reduce((a, b) => a + b, 0));
`,
    );
    const server = await startServer({ db: `${dir}/cellar.duckdb`, host: "127.0.0.1", port: 0, pipelines: dir, schedule: false });
    try {
      const health = await fetch(`${server.url}/healthz`);
      assert.equal(health.status, 200);
      assert.equal(await health.text(), "ok");

      // A live-updates stream left open: the server must still shut down (Deno's shutdown waits for responses).
      const live = await fetch(`${server.url}/api/v1/events`);
      assert.match(live.headers.get("content-type") ?? "", /^text\/event-stream/);
      const reader = live.body!.pipeThrough(new TextDecoderStream()).getReader();

      const started = await fetch(`${server.url}/api/v1/pipelines/small/runs`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ date: "2026-05-03" }),
      });
      assert.equal(started.status, 202);
      const { id } = await started.json();
      let detail: { state: string; cells: Array<{ cell: string; state: string; preview?: unknown }> } = { state: "queued", cells: [] };
      for (const deadline = Date.now() + 30_000; Date.now() < deadline && detail.state !== "success";) {
        await new Promise((r) => setTimeout(r, 50));
        detail = await (await fetch(`${server.url}/api/v1/runs/${id}`)).json();
      }
      assert.equal(detail.state, "success");
      assert.deepEqual(detail.cells.map((c) => `${c.cell}:${c.state}`), ["make:success", "sum:success"]);
      // Each cell's output preview, as the notebook shows it.
      assert.deepEqual(detail.cells[1].preview, { kind: "json", text: "6", truncated: false, bytes: 1 });
      // A page of its log, filtered, and an unknown run's in one line.
      const warned = await (await fetch(`${server.url}/api/v1/runs/${id}/logs?level=warn`)).json();
      assert.deepEqual(warned.lines.map((l: { cell: string; message: string }) => `${l.cell}: ${l.message}`), ["make: made 3"]);
      assert.deepEqual([warned.earlier, warned.later, warned.matching], [null, null, 1]);
      // The run list's kept bytes (body-cache.ts) under Deno.serve: JSON with its ETag, then a 304.
      const listed = await fetch(`${server.url}/api/v1/runs`);
      assert.match(listed.headers.get("content-type") ?? "", /^application\/json/);
      assert.deepEqual((await listed.json()).runs.map((r: { id: number; state: string }) => `${r.id}:${r.state}`), [`${id}:success`]);
      const again = await fetch(`${server.url}/api/v1/runs`, { headers: { "if-none-match": listed.headers.get("etag")! } });
      assert.equal(again.status, 304);
      await again.body?.cancel();
      const missing = await fetch(`${server.url}/api/v1/runs/999999/logs`);
      assert.equal(missing.status, 404);
      assert.match((await missing.json()).error, /^run 999999: no such run in [^\n]+$/);
      const first = await reader.read();
      assert.match(first.value ?? "", /^event: run\n/);
    } finally {
      await server.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "a server with a token guards the API and the UI under Deno: bearer, login cookie, same origin, CSP",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "cellar-auth-" });
    await Deno.writeTextFile(
      `${dir}/small.ts`,
      `import { pipeline } from ${JSON.stringify(`${ROOT}kernel/mod.ts`)};
export default pipeline({ id: "small" }).cell("make", () => 1);
`,
    );
    const server = await startServer({ db: `${dir}/cellar.duckdb`, host: "127.0.0.1", port: 0, pipelines: dir, schedule: false, token: "s3cret" });
    try {
      const refused = await fetch(`${server.url}/api/v1/pipelines`, { headers: { authorization: "Bearer wrong" } });
      assert.equal(refused.status, 401);
      assert.equal(await refused.text(), '{"error":"missing or wrong bearer token"}');
      const ok = await fetch(`${server.url}/api/v1/pipelines`, { headers: { authorization: "Bearer s3cret" } });
      assert.equal(ok.status, 200);
      assert.match(ok.headers.get("content-security-policy") ?? "", /^default-src 'self'; script-src 'self';/);
      await ok.body?.cancel();
      const page = await fetch(`${server.url}/`, { redirect: "manual" });
      assert.equal(page.status, 302);
      assert.equal(page.headers.get("location"), "/login?next=%2F");
      await page.body?.cancel();

      const login = await fetch(`${server.url}/login`, {
        method: "POST",
        redirect: "manual",
        headers: { "content-type": "application/x-www-form-urlencoded", origin: server.url },
        body: "token=s3cret&next=%2F",
      });
      assert.equal(login.status, 303);
      await login.body?.cancel();
      const setCookie = login.headers.get("set-cookie") ?? "";
      assert.match(setCookie, /; HttpOnly/);
      assert.match(setCookie, /; SameSite=Strict/);
      const cookie = setCookie.split(";")[0];
      const home = await fetch(`${server.url}/`, { headers: { cookie } });
      assert.equal(home.status, 200);
      await home.body?.cancel();

      const trigger = (origin: string) =>
        fetch(`${server.url}/api/v1/pipelines/small/runs`, { method: "POST", headers: { cookie, origin, "content-type": "application/json" }, body: "{}" });
      const foreign = await trigger("https://evil.example");
      assert.equal(foreign.status, 403);
      await foreign.body?.cancel();
      const same = await trigger(server.url);
      assert.equal(same.status, 202);
      await same.body?.cancel();
    } finally {
      await server.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
