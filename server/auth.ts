/**
 * The server's guard: with a token, every route but `/healthz` needs `Authorization: Bearer <token>`,
 * compared in constant time; and the rule that a server listening beyond loopback must have a token.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { bindRefusal, requireToken } from "./auth.ts";
 *
 * bindRefusal("0.0.0.0", undefined); // → "--host 0.0.0.0 is not loopback; set --token (or CELLAR_TOKEN) to listen there"
 * const app = new Hono().use("*", requireToken("s3cret", ["/healthz"]));
 * ```
 */
import type { MiddlewareHandler } from "hono";

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

/** Why the server must not listen on `host` without a token, or undefined when it may. */
export function bindRefusal(host: string, token: string | undefined): string | undefined {
  if (LOOPBACK.has(host) || token) return undefined;
  return `--host ${host} is not loopback; set --token (or CELLAR_TOKEN) to listen there`;
}

/** Answers 401 to a request without the bearer token, except on the `open` paths. */
export function requireToken(token: string, open: string[]): MiddlewareHandler {
  const expected = new TextEncoder().encode(token);
  return async (c, next) => {
    if (open.includes(c.req.path)) return await next();
    const header = c.req.header("authorization") ?? "";
    const given = new TextEncoder().encode(header.startsWith("Bearer ") ? header.slice(7) : "");
    if (!sameBytes(given, expected)) {
      c.header("www-authenticate", 'Bearer realm="cellar"');
      return c.json({ error: "missing or wrong bearer token" }, 401);
    }
    await next();
  };
}

/** Equal bytes, in a time that depends on the lengths only, not on where they first differ. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a[i % Math.max(a.length, 1)] ?? 0) ^ b[i];
  return diff === 0;
}
