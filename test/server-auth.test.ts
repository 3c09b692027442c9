// The server's guards over real HTTP on 127.0.0.1 (Node): the bearer token on the API, the login form and
// its session cookie on the UI, the same-origin rule on state changes, and the CSP on every response.
import { request } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "../server/serve.ts";
import { tempDir, writePipeline } from "./helpers.ts";

function pipelinesDir(): string {
  const dir = tempDir("cellar-auth-");
  writePipeline(dir, "small.ts", `export default pipeline({ id: "small" }).cell("make", () => 1);`);
  return dir;
}

/** A GET with the path sent as written: fetch would resolve the dots before sending. */
function rawGet(url: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { path }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (chunk) => body += chunk).on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject).end();
  });
}

const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

describe("a server with a token", () => {
  let server: RunningServer;
  beforeAll(async () => {
    const dir = pipelinesDir();
    server = await startServer({ db: join(dir, "cellar.duckdb"), host: "127.0.0.1", port: 0, pipelines: dir, schedule: false, token: "s3cret" });
  });
  afterAll(async () => await server?.close());

  const login = (token: string, next = "/pipelines/small") =>
    fetch(`${server.url}/login`, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: server.url },
      body: new URLSearchParams({ token, next }).toString(),
    });

  it("answers the API 401 in one JSON line without the bearer token or with a wrong one, and keeps /healthz open", async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const refused: Record<string, string>[] = [{}, { authorization: "Bearer wrong" }, { authorization: "Basic czNjcmV0" }];
    for (const headers of refused) {
      const res = await fetch(`${server.url}/api/v1/pipelines`, { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer /);
      expect(await res.text()).toBe('{"error":"missing or wrong bearer token"}');
    }
    const ok = await fetch(`${server.url}/api/v1/pipelines`, { headers: { authorization: "Bearer s3cret" } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-security-policy")).toBe(CSP);
  });

  it("sends the UI to /login without a session, and the login form's stylesheet is open", async () => {
    const res = await fetch(`${server.url}/pipelines/small?run=1`, { redirect: "manual" });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe(`/login?next=${encodeURIComponent("/pipelines/small?run=1")}`);
    const form = await fetch(`${server.url}/login?next=/pipelines/small`);
    expect(form.status).toBe(200);
    expect(form.headers.get("content-security-policy")).toBe(CSP);
    const html = await form.text();
    expect(html).toContain('<form class="login" method="post" action="/login">');
    expect(html).toContain('value="/pipelines/small"');
    expect((await fetch(`${server.url}/ui/style.css`)).status).toBe(200);
    // Its icon too, before a login, and /favicon.ico where a browser looks by default.
    for (const icon of ["/ui/favicon.svg", "/favicon.ico"]) expect((await fetch(server.url + icon)).headers.get("content-type")).toBe("image/svg+xml");
  });

  it("re-shows the form with one line on a wrong token, and refuses a login from another origin", async () => {
    const wrong = await login("nope");
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("set-cookie")).toBeNull();
    const html = await wrong.text();
    expect(html).toContain('<p class="error">wrong token</p>');
    expect(html).toContain('name="token"');
    const foreign = await fetch(`${server.url}/login`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: "https://evil.example" },
      body: "token=s3cret",
    });
    expect(foreign.status).toBe(403);
    expect(foreign.headers.get("set-cookie")).toBeNull();
  });

  it("logs in with the right token: an HttpOnly, SameSite=Strict cookie, back to the page, which then answers 200", async () => {
    const res = await login("s3cret");
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/pipelines/small");
    const setCookie = res.headers.get("set-cookie")!;
    expect(setCookie).toMatch(/^cellar_session=/);
    expect(setCookie).toMatch(/; HttpOnly/);
    expect(setCookie).toMatch(/; SameSite=Strict/);
    expect(setCookie).toMatch(/; Path=\//);
    const cookie = setCookie.split(";")[0];
    const page = await fetch(`${server.url}/`, { headers: { cookie }, redirect: "manual" });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toBe(CSP);
    expect(await page.text()).toContain("small");
    // The cookie serves the API too (the UI's own requests), and a forged one serves nothing.
    expect((await fetch(`${server.url}/api/v1/pipelines`, { headers: { cookie } })).status).toBe(200);
    const forged = cookie.replace(/=\d+/, `=${Date.now()}`);
    expect((await fetch(`${server.url}/`, { headers: { cookie: forged }, redirect: "manual" })).status).toBe(302);
  });

  it("never redirects off-site after a login", async () => {
    for (const next of ["//evil.example/", "https://evil.example/", "/\\evil.example"]) {
      const res = await login("s3cret", next);
      expect(res.headers.get("location")).toBe("/");
    }
  });

  it("takes a state change with the cookie from this origin only", async () => {
    const cookie = (await login("s3cret")).headers.get("set-cookie")!.split(";")[0];
    const trigger = (headers: Record<string, string>, type = "application/json") =>
      fetch(`${server.url}/api/v1/pipelines/small/runs`, { method: "POST", headers: { cookie, "content-type": type, ...headers }, body: "{}" });
    const foreign = await trigger({ origin: "https://evil.example" });
    expect(foreign.status).toBe(403);
    expect(await foreign.text()).toBe('{"error":"POST /api/v1/pipelines/small/runs: refused, the request comes from another origin"}');
    // A form-like body, what a page elsewhere can send without a preflight, needs this origin stated.
    expect((await trigger({ origin: "https://evil.example" }, "text/plain")).status).toBe(403);
    expect((await trigger({ "sec-fetch-site": "cross-site" }, "application/x-www-form-urlencoded")).status).toBe(403);
    expect((await trigger({}, "text/plain")).status).toBe(403);
    const same = await trigger({ origin: server.url });
    expect(same.status).toBe(202);
    expect((await trigger({ "sec-fetch-site": "same-origin" })).status).toBe(202);
    expect((await trigger({ origin: server.url }, "text/plain")).status).toBe(415);
    // Without a session, a UI page's POST is refused, not redirected.
    const noSession = await fetch(`${server.url}/`, { method: "POST", headers: { origin: server.url } });
    expect(noSession.status).toBe(401);
  });
});

describe("a loopback server without a token", () => {
  let server: RunningServer;
  beforeAll(async () => {
    const dir = pipelinesDir();
    server = await startServer({ db: join(dir, "cellar.duckdb"), host: "127.0.0.1", port: 0, pipelines: dir, schedule: false });
  });
  afterAll(async () => await server?.close());

  it("refuses a form-like state change from another origin, takes JSON and bearer clients, and sets the CSP", async () => {
    const url = `${server.url}/api/v1/pipelines/small/runs`;
    expect((await fetch(url, { method: "POST", headers: { origin: "https://evil.example", "content-type": "text/plain" }, body: "" })).status).toBe(403);
    expect((await fetch(url, { method: "POST", headers: { origin: "https://evil.example", "content-type": "application/json" }, body: "{}" })).status).toBe(403);
    expect((await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).status).toBe(202);
    expect((await fetch(url, { method: "POST", headers: { authorization: "Bearer anything" } })).status).toBe(202);
    const page = await fetch(`${server.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toBe(CSP);
    expect((await fetch(`${server.url}/login`)).status).toBe(404);
  });

  it("serves no file by path traversal", async () => {
    for (const path of ["/ui/../../etc/passwd", "/static/../../etc/passwd", "/ui/..%2f..%2f..%2fetc%2fpasswd", "/ui/style.css/../../../etc/passwd"]) {
      const { status, body } = await rawGet(server.url, path);
      expect(status, path).toBe(404);
      expect(body).not.toMatch(/root:/);
    }
  });
});
