/**
 * The server's guards, over Hono's own middleware: with a token, every route but the open ones needs either
 * `Authorization: Bearer <token>` (hono/bearer-auth, compared in constant time) or the session cookie that
 * `POST /login` sets (hono/cookie, signed with a per-process secret), and the UI sends a browser without one
 * to `/login`; whatever the token, a request that changes state must come from this origin (hono/csrf) unless
 * it carries an Authorization header, which no page on another origin can add without a preflight this server
 * never grants. And the rule that a server listening beyond loopback must have a token.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { bindRefusal, sameOrigin, tokenGuard } from "./auth.ts";
 *
 * bindRefusal("0.0.0.0", undefined); // → "--host 0.0.0.0 is not loopback; set --token (or CELLAR_TOKEN) to listen there"
 * const guard = tokenGuard("s3cret", ["/healthz"]);
 * const app = new Hono().use("*", sameOrigin()).use("*", guard.check).route("/", guard.login);
 * ```
 */
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import { getSignedCookie, setSignedCookie } from "hono/cookie";
import { csrf } from "hono/csrf";
import { HTTPException } from "hono/http-exception";
import { timingSafeEqual } from "hono/utils/buffer";
import { loginPage } from "./ui/login-page.tsx";

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

/** The session cookie's name; its value is the time it was issued, signed. */
export const SESSION_COOKIE = "cellar_session";
/** How long a login lasts. */
const SESSION_MS = 12 * 60 * 60 * 1000;

/** Why the server must not listen on `host` without a token, or undefined when it may. */
export function bindRefusal(host: string, token: string | undefined): string | undefined {
  if (LOOPBACK.has(host) || token) return undefined;
  return `--host ${host} is not loopback; set --token (or CELLAR_TOKEN) to listen there`;
}

/** Runs Hono middleware that throws its refusal as an HTTPException, answering that refusal instead. */
async function refusal(check: MiddlewareHandler, c: Context): Promise<Response | undefined> {
  let passed = false;
  try {
    await check(c, () => {
      passed = true;
      return Promise.resolve();
    });
  } catch (err) {
    if (!passed && err instanceof HTTPException) return err.getResponse();
    throw err;
  }
  return passed ? undefined : c.res;
}

/**
 * Refuses (403, one line) a state-changing request from another origin: hono/csrf's Origin and
 * Sec-Fetch-Site check, which a form-like body (the only kind a page elsewhere can send without a preflight)
 * must pass; and, whatever the body, a foreign Origin a browser stated.
 */
export function sameOrigin(): MiddlewareHandler {
  const check = csrf();
  return async (c, next) => {
    if (!SAFE_METHODS.has(c.req.method) && c.req.header("authorization") === undefined) {
      if (statedForeign(c) || await refusal(check, c)) {
        return c.json({ error: `${c.req.method} ${c.req.path}: refused, the request comes from another origin` }, 403);
      }
    }
    await next();
  };
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

function statedForeign(c: Context): boolean {
  const origin = c.req.header("origin");
  return origin !== undefined && origin !== new URL(c.req.url).origin && c.req.header("sec-fetch-site") !== "same-origin";
}

export interface TokenGuard {
  /** The middleware: the bearer token or a session on every route but the open ones. */
  check: MiddlewareHandler;
  /** `GET /login` (the form) and `POST /login` (the token in, the session cookie out). */
  login: Hono;
}

/**
 * The guard of a server with a token; `/login` and the `open` paths need neither token nor session, nor do
 * the requests `ownAuth` picks (the remote kernels' calls, which carry a token of their own that their route checks).
 */
export function tokenGuard(token: string, open: string[], ownAuth: (method: string, path: string) => boolean = () => false): TokenGuard {
  // A new secret per process: a restart ends every session, and no secret is kept anywhere.
  const secret = Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => b.toString(16).padStart(2, "0")).join("");
  const refuse = (c: Context) => c.json({ error: "missing or wrong bearer token" }, 401);
  const bearer = bearerAuth({
    token,
    realm: "cellar",
    noAuthenticationHeader: { message: refuse },
    invalidAuthenticationHeader: { message: refuse },
    invalidToken: { message: refuse },
  });
  const openPaths = new Set([...open, "/login"]);
  const check: MiddlewareHandler = async (c, next) => {
    if (openPaths.has(c.req.path) || ownAuth(c.req.method, c.req.path) || await hasSession(c, secret)) return await next();
    if (c.req.header("authorization") !== undefined || !isUiPath(c.req.path)) {
      const refused = await refusal(bearer, c);
      if (refused) return refused;
      return await next();
    }
    if (c.req.method !== "GET" && c.req.method !== "HEAD") return c.json({ error: "log in first: no session" }, 401);
    const url = new URL(c.req.url);
    return c.redirect(`/login?next=${encodeURIComponent(url.pathname + url.search)}`, 302);
  };
  return { check, login: loginRoutes(token, secret) };
}

function loginRoutes(token: string, secret: string): Hono {
  const app = new Hono();
  app.get("/login", (c) => c.html(loginPage({ next: localPath(c.req.query("next")) })));
  app.post("/login", async (c) => {
    const form = await c.req.parseBody();
    const next = localPath(form.next);
    const given = typeof form.token === "string" ? form.token : "";
    if (!(await timingSafeEqual(token, given))) return c.html(loginPage({ next, error: "wrong token" }), 401);
    await setSignedCookie(c, SESSION_COOKIE, String(Date.now()), secret, {
      httpOnly: true,
      sameSite: "Strict",
      path: "/",
      secure: new URL(c.req.url).protocol === "https:",
      maxAge: SESSION_MS / 1000,
    });
    return c.redirect(next, 303);
  });
  return app;
}

/** A signed session cookie issued less than SESSION_MS ago. */
async function hasSession(c: Context, secret: string): Promise<boolean> {
  const issued = await getSignedCookie(c, secret, SESSION_COOKIE);
  if (!issued) return false;
  const age = Date.now() - Number(issued);
  return age >= 0 && age < SESSION_MS;
}

/** The UI's pages (a browser is sent to log in) as against the API and /metrics (a client gets 401). */
function isUiPath(path: string): boolean {
  return !path.startsWith("/api/") && path !== "/metrics";
}

/** `next` when it is a path on this server, else `/`: the login never redirects off-site. */
function localPath(next: unknown): string {
  return typeof next === "string" && /^\/(?![/\\])[\x21-\x7e]*$/.test(next) ? next : "/";
}
