/**
 * URL normalization, so that two spellings of one page are one page: the
 * fragment dropped, scheme and host lowercased, default ports dropped, dot
 * segments resolved (all by WHATWG `URL`), plus RFC 3986 percent-encoding
 * normalization (hex uppercased, unreserved characters decoded) and no empty `?`.
 *
 * @example
 * normalizeUrl("HTTP://Example.COM:80/a/./b/../c%7e?#top"); // "http://example.com/a/c~"
 * normalizeUrl("guide.html", "https://example.com/docs/"); // "https://example.com/docs/guide.html"
 * siteOf("https://www.example.com/x"); // "example.com"
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

/** The site a URL belongs to for "same-site" link following: its hostname without a leading `www.`. */
export function siteOf(url: string): string {
  const host = new URL(url).hostname;
  return host.startsWith("www.") ? host.slice(4) : host;
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

function normalizePercent(part: string): string {
  if (!part.includes("%")) return part;
  return part.replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) => {
    const char = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(char) ? char : `%${hex.toUpperCase()}`;
  });
}
