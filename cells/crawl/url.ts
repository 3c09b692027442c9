/**
 * URL normalization, so that two spellings of one page are one page: the
 * fragment dropped, scheme and host lowercased, default ports dropped, dot
 * segments resolved (all by WHATWG `URL`), plus RFC 3986 percent-encoding
 * normalization (hex uppercased, unreserved characters decoded) and no empty `?`.
 *
 * @example
 * ```ts
 * import { normalizeUrl, siteOf } from "./url.ts";
 *
 * normalizeUrl("HTTP://Example.COM:80/a/./b/../c%7e?#top"); // "http://example.com/a/c~"
 * normalizeUrl("guide.html", "https://example.com/docs/"); // "https://example.com/docs/guide.html"
 * siteOf("https://www.example.com:8443/x"); // "https://www.example.com:8443"
 * ```
 */

const CRAWLABLE = new Set(["http:", "https:", "file:"]);

/** The normalized absolute URL of `href` (relative to `base`), or undefined when it is not http(s)/file or not a URL. */
export function normalizeUrl(href: string, base?: string | URL): string | undefined {
  let url: URL;
  try {
    url = new URL(href.trim(), base);
  } catch {
    return undefined;
  }
  if (!CRAWLABLE.has(url.protocol)) return undefined;
  url.hash = "";
  url.username = url.protocol === "file:" ? "" : url.username;
  url.pathname = normalizePercent(url.pathname);
  if (url.search === "") url.search = "";
  else url.search = normalizePercent(url.search);
  return url.href;
}

/** The site a URL belongs to for "same-site" link following: its origin, scheme, host and port. */
export function siteOf(url: string): string {
  return new URL(url).origin;
}

/**
 * True when `url` is on `site` (an origin from siteOf) or on a host `allowHosts` adds: an entry is a host
 * name (`docs.example.org`, any port and http(s)), a host and port (`127.0.0.1:8081`), an origin
 * (`https://example.org:8443`), or `*.example.org` for its subdomains on any port.
 */
export function onSite(url: string, site: string, allowHosts: readonly string[] = []): boolean {
  const u = new URL(url);
  if (u.origin === site) return true;
  for (const entry of allowHosts) {
    if (entry.includes("://")) {
      if (u.origin === entry) return true;
    } else if (entry.startsWith("*.")) {
      if (u.hostname.endsWith(entry.slice(1))) return true;
    } else if (entry.includes(":") && !entry.startsWith("[") || /^\[.*\]:/.test(entry)) {
      if (u.host === entry) return true;
    } else if (u.hostname === entry) {
      return true;
    }
  }
  return false;
}

/** An allowHosts entry as onSite matches it (lowercased, default ports dropped), or undefined when it is not one. */
export function normalizeAllowedHost(entry: string): string | undefined {
  const text = entry.trim().toLowerCase();
  if (text === "" || /[\s/?#@]/.test(text.replace(/^https?:\/\//, ""))) return undefined;
  // A suffix no host name can end in ("*.127.1": what precedes it makes an IPv4 address that WHATWG URL refuses) would match nothing.
  if (text.startsWith("*.")) return /^\*\.[a-z0-9.-]+$/.test(text) && URL.canParse(`http://x${text.slice(1)}/`) ? text : undefined;
  try {
    const url = new URL(text.includes("://") ? text : `http://${text}`);
    if (!["http:", "https:"].includes(url.protocol) || !url.hostname) return undefined;
    if (text.includes("://")) return url.origin;
    return /:\d+$/.test(text) && url.port !== "" ? url.host : url.hostname;
  } catch {
    return undefined;
  }
}

/** The key politeness is kept under: host and port, since two ports are two servers. */
export function hostOf(url: string): string {
  return new URL(url).host;
}

// Links to these are not pages; following them would only download bytes to throw away
// (Scrapy's LinkExtractor skips the same kinds by default).
const NOT_PAGES = new Set([
  "7z", "apk", "avi", "bin", "bmp", "bz2", "css", "csv", "deb", "dmg", "doc", "docx", "eot", "exe", "flac", "gif",
  "gz", "ico", "iso", "jar", "jpeg", "jpg", "js", "json", "m4a", "m4v", "mkv", "mov", "mp3", "mp4", "mpeg", "mpg",
  "msi", "ogg", "otf", "pdf", "png", "ppt", "pptx", "ps", "rar", "rpm", "svg", "svgz", "tar", "tgz", "tif", "tiff",
  "ttf", "wasm", "wav", "webm", "webp", "woff", "woff2", "xls", "xlsx", "xz", "zip",
]);

/** True when the URL's path ends in an extension of a file that is not a page (images, archives, ...). */
export function looksLikeNonPage(url: string): boolean {
  const path = new URL(url).pathname;
  const dot = path.lastIndexOf(".");
  if (dot < 0 || dot < path.lastIndexOf("/")) return false;
  return NOT_PAGES.has(path.slice(dot + 1).toLowerCase());
}

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/**
 * Unreserved characters decoded, other escapes upper-cased, and a "%" that starts no escape written as
 * "%25" (what it stands for): left bare, it could meet the digits of a decoded escape ("%%34a" → "%4a")
 * and make an escape that the next pass decodes, so that normalizing twice would differ from once.
 */
function normalizePercent(part: string): string {
  if (!part.includes("%")) return part;
  return part.replace(/%([0-9a-fA-F]{2})?/g, (_, hex: string | undefined) => {
    if (hex === undefined) return "%25";
    const char = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(char) ? char : `%${hex.toUpperCase()}`;
  });
}
