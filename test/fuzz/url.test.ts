// Fuzzed URLs (issue 14, item 3): cells/crawl/url.ts's normalization is idempotent and keeps the origin, for
// the links of any page (arbitrary hrefs against a base) and for allowHosts entries.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { normalizeAllowedHost, normalizeUrl, onSite, siteOf } from "../../cells/crawl/url.ts";
import { FUZZ_TIMEOUT, fuzz } from "./runs.ts";

/** Random upper and lower case, as hosts and schemes are written by hand. */
const randomCase = (text: string) => fc.array(fc.boolean(), { minLength: text.length, maxLength: text.length }).map((ups) => [...text].map((c, i) => (ups[i] ? c.toUpperCase() : c)).join(""));

const pathPiece = fc.oneof(
  fc.constantFrom(".", "..", "", "a", "%7e", "%7E", "%2f", "%2F", "%41", "%zz", "%", "%%32", "~user", "a b", "é", "%E2%82%AC", "€", "\\", ";x=1", "@", ":", "%00", "%25"),
  fc.string({ maxLength: 5 }),
);
const query = fc.oneof(fc.constant(""), fc.constant("?"), fc.array(fc.oneof(fc.string({ maxLength: 4 }), fc.constantFrom("a=%7e", "b=%2F", "c", "=", "&", "%41", "+", " ")), { maxLength: 3 }).map((xs) => `?${xs.join("&")}`));
const fragment = fc.oneof(fc.constant(""), fc.string({ maxLength: 6 }).map((s) => `#${s}`));
const host = fc.oneof(fc.domain(), fc.ipV4(), fc.constantFrom("[::1]", "[2001:DB8::1]", "localhost", "xn--nxasmq6b.com", "bücher.de", "EXAMPLE.com", "a..b", "127.1"));
const port = fc.oneof(fc.constant(""), fc.constantFrom(":80", ":443", ":8080", ":0", ":65535", ":", ":080"));

/** Absolute URLs as a page or a seeds list may spell them, crawlable or not. */
const absolute = fc.tuple(randomCase("http"), fc.constantFrom("", "s"), fc.constantFrom("://", ":/", ":", ":///"), fc.option(fc.constantFrom("user@", "u:p@", "@")), host, port, fc.array(pathPiece, { maxLength: 5 }), query, fragment)
  .map(([scheme, s, sep, user, h, p, path, q, f]) => `${scheme}${s}${sep}${user ?? ""}${h}${p}/${path.join("/")}${q}${f}`);
const otherScheme = fc.tuple(fc.constantFrom("file:///", "FILE://localhost/", "mailto:", "javascript:", "data:text/html,", "ftp://", "tel:", "blob:https://x.org/"), fc.array(pathPiece, { maxLength: 4 }))
  .map(([scheme, path]) => `${scheme}${path.join("/")}`);
const relative = fc.tuple(fc.constantFrom("", "/", "./", "../", "//", "?", "#", " "), fc.array(pathPiece, { maxLength: 4 }), query, fragment).map(([lead, path, q, f]) => `${lead}${path.join("/")}${q}${f}`);
const href = fc.oneof(absolute, fc.webUrl({ withFragments: true, withQueryParameters: true }), otherScheme, relative, fc.string({ maxLength: 20 }));
const base = fc.oneof(fc.constant(undefined), fc.webUrl(), fc.constantFrom("https://example.com/docs/", "http://127.0.0.1:8081/a/b.html", "file:///srv/docs/index.html"));

/** Scheme and host: the origin, also for file: URLs (whose `origin` is "null"). */
const originOf = (url: string) => {
  const u = new URL(url);
  return `${u.protocol}//${u.host}`;
};

describe("normalizeUrl", () => {
  it("is idempotent, keeps the origin, and leaves no fragment, for any href against any base", () => {
    let normalized = 0;
    fc.assert(
      fc.property(href, base, (h, b) => {
        const once = normalizeUrl(h, b);
        if (once === undefined) return;
        normalized++;
        expect(normalizeUrl(once)).toBe(once);
        expect(["http:", "https:", "file:"]).toContain(new URL(once).protocol);
        expect(originOf(once)).toBe(originOf(new URL(h.trim(), b).href));
        expect(once).not.toContain("#");
        // RFC 3986: no unreserved character stays percent-encoded, and what stays encoded is upper case.
        for (const [escape] of once.matchAll(/%[0-9A-Fa-f]{2}/g)) {
          expect(escape).toBe(escape.toUpperCase());
          expect(String.fromCharCode(parseInt(escape.slice(1), 16))).not.toMatch(/[A-Za-z0-9\-._~]/);
        }
      }),
      fuzz(),
    );
    expect(normalized).toBeGreaterThan(300);
  }, FUZZ_TIMEOUT);

  it("regression: a bare % before an escape of a digit does not make a new escape (%%34a was %4a, then J)", () => {
    for (const url of ["http://x.org/%%34a", "http://x.org/a?q=%%37e", "http://x.org/%%36%31"]) {
      const once = normalizeUrl(url)!;
      expect(normalizeUrl(once)).toBe(once);
    }
    expect(normalizeUrl("http://x.org/%%34a")).toBe("http://x.org/%254a");
    expect(normalizeUrl("http://x.org/100%")).toBe("http://x.org/100%25");
  });

  it("gives one URL for two spellings of one page: case of scheme and host, default port, dot segments, escapes", () => {
    fc.assert(
      fc.property(fc.webUrl({ withQueryParameters: true }), fc.boolean(), (url, upper) => {
        const u = new URL(url);
        const spelled = `${upper ? u.protocol.toUpperCase() : u.protocol}//${u.hostname.toUpperCase()}${u.port ? `:${u.port}` : `:${u.protocol === "https:" ? 443 : 80}`}/./x/..${u.pathname}${u.search}#frag`;
        expect(normalizeUrl(spelled)).toBe(normalizeUrl(url));
      }),
      fuzz(),
    );
  }, FUZZ_TIMEOUT);

  it("keeps a page on its own site (siteOf, onSite)", () => {
    fc.assert(
      fc.property(href, base, (h, b) => {
        const url = normalizeUrl(h, b);
        fc.pre(url !== undefined && !url.startsWith("file:"));
        expect(onSite(url!, siteOf(url!))).toBe(true);
      }),
      fuzz(),
    );
  }, FUZZ_TIMEOUT);
});

describe("normalizeAllowedHost", () => {
  it("regression: refuses a wildcard no host can match (*.127.1: its hosts would be IPv4 addresses URL refuses)", () => {
    expect(normalizeAllowedHost("*.127.1")).toBeUndefined();
    expect(normalizeAllowedHost("*.1.2.3.4")).toBeUndefined();
    expect(normalizeAllowedHost("*.Example.org")).toBe("*.example.org");
  });

  const entry = fc.oneof(
    fc.tuple(fc.constantFrom("", "http://", "HTTPS://", "*.", "ftp://"), host, port, fc.constantFrom("", "/", "/x", " ")).map((parts) => parts.join("")),
    fc.string({ maxLength: 20 }),
  );

  it("is idempotent, and a URL on the host it allows is on site", () => {
    fc.assert(
      fc.property(entry, (e) => {
        const once = normalizeAllowedHost(e);
        if (once === undefined) return;
        expect(normalizeAllowedHost(once)).toBe(once);
        if (once.startsWith("*.")) {
          expect(onSite(`https://sub${once.slice(1)}/`, "https://other.invalid", [once])).toBe(true);
        } else {
          const url = once.includes("://") ? `${once}/page` : `http://${once}/page`;
          fc.pre(URL.canParse(url));
          expect(onSite(url, "https://other.invalid", [once])).toBe(true);
        }
      }),
      fuzz(),
    );
  }, FUZZ_TIMEOUT);
});
