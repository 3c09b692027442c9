// Fuzzed robots.txt (issue 14, item 3): cells/crawl/robots.ts over a real HTTP server on 127.0.0.1 that
// answers each case's file (or status). Any file and any URL give a verdict, never an exception; a delay is
// within bounds; a group for our agent is obeyed whatever else the file holds.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RobotsCache } from "../../cells/crawl/robots.ts";
import { FUZZ_TIMEOUT, fuzz } from "./runs.ts";

const UA = "CellarBot/0.1";
let answer: { status: number; body: string | Uint8Array } = { status: 200, body: "" };
let server: Server;
let origin: string;

beforeAll(async () => {
  server = createServer((_req, res) => {
    if (answer.status >= 300 && answer.status < 400) res.setHeader("location", "/robots.txt");
    res.writeHead(answer.status, { "content-type": "text/plain" });
    res.end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => await new Promise((resolve) => server.close(resolve)));

const robots = () => new RobotsCache({ userAgent: UA, timeoutMs: 5_000, signal: new AbortController().signal });

const directive = fc.oneof(
  fc.tuple(fc.constantFrom("User-agent", "user-agent", "USER-AGENT", "Disallow", "Allow", "Crawl-delay", "Sitemap", "Host", "Noindex", "Clean-param", ""), fc.constantFrom(":", ": ", " : ", ""), fc.oneof(fc.constantFrom("*", "CellarBot", "cellarbot/0.1", "Other", "/", "/private", "/*.pdf$", "/a*b", "$", "*", "", "10", "-1", "1e9", "NaN", "0.5", "99999999999999999999", "/%E2%82%AC", "/€", "/?q="), fc.string({ maxLength: 10 })))
    .map(([key, sep, value]) => `${key}${sep}${value}`),
  fc.constantFrom("# comment", "", "   ", "\uFEFFUser-agent: *", "Disallow: /x # note"),
  fc.string({ maxLength: 20 }),
);
const file = fc.tuple(fc.array(directive, { maxLength: 12 }), fc.constantFrom("\n", "\r\n", "\r")).map(([lines, eol]) => lines.join(eol));
const path = fc.oneof(fc.webPath(), fc.constantFrom("/", "/private/x", "/a.pdf", "/%7e", "/€", "/?q=1", "/a//b", "/..%2f"));

describe("robots.txt", () => {
  it("gives a verdict for any file and any URL: allowed with a delay in [0, 60 s], or refused with a reason", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof({ weight: 5, arbitrary: file.map((body) => ({ status: 200, body })) }, fc.record({ status: fc.constantFrom(200, 204, 301, 404, 410, 429, 500, 503), body: fc.oneof(file, fc.uint8Array({ maxLength: 40 })) })), path, async (a, p) => {
        answer = a;
        const verdict = await robots().check(`${origin}${p}`);
        if (verdict.allowed) {
          expect(verdict.crawlDelayMs).toBeGreaterThanOrEqual(0);
          expect(verdict.crawlDelayMs).toBeLessThanOrEqual(60_000);
          expect(Number.isFinite(verdict.crawlDelayMs)).toBe(true);
        } else {
          expect(verdict.detail).not.toMatch(/[\n\r]/);
          expect(typeof verdict.reason).toBe("string");
        }
        if (a.status >= 500) expect(verdict.allowed).toBe(false);
        if (a.status === 404 || a.status === 410) expect(verdict.allowed).toBe(true);
      }),
      fuzz(),
    );
  }, FUZZ_TIMEOUT);

  it("obeys a group for our agent whatever junk comes before it: its Disallow refuses, other paths are allowed", async () => {
    const junk = fc.array(fc.string({ maxLength: 20 }).filter((s) => !s.includes(":")), { maxLength: 5 });
    const segment = fc.stringMatching(/^[a-z0-9]{1,8}$/);
    await fc.assert(
      fc.asyncProperty(junk, segment, segment, async (before, blocked, other) => {
        fc.pre(!other.startsWith(blocked));
        answer = { status: 200, body: `${before.join("\n")}\nUser-agent: CellarBot\nDisallow: /${blocked}\n\nUser-agent: *\nDisallow: /\n` };
        const cache = robots();
        expect((await cache.check(`${origin}/${blocked}/page`)).allowed).toBe(false);
        expect((await cache.check(`${origin}/${other}`)).allowed).toBe(true);
      }),
      fuzz(),
    );
  }, FUZZ_TIMEOUT);
});
