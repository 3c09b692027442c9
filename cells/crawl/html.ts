/**
 * HTML to clean text with htmlparser2 (a real, streaming HTML parser; no
 * regular expressions over markup): the `<title>` kept (the first `<h1>` when
 * there is none); script, style, nav, header, footer and other boilerplate
 * dropped; block elements become line breaks; and the page's links (resolved
 * against `<base href>`, `rel="nofollow"` skipped) and `<meta name="robots">`
 * directives reported for the crawler.
 *
 * @example
 * ```ts
 * import { extractHtml } from "./html.ts";
 *
 * const page = extractHtml("<title>Hi</title><nav>menu</nav><p>Hello <b>world</b></p><a href='b.html'>b</a>", "https://x.org/a.html");
 * page.title; // "Hi"
 * page.text;  // "Hello world\n\nb"
 * page.links; // ["https://x.org/b.html"]
 * ```
 */
import { LinearParser, type TreeHandler } from "./tree.ts";
import { normalizeUrl } from "./url.ts";

export interface HtmlPage {
  title: string;
  text: string;
  /** Absolute, normalized http(s)/file URLs of the page's links, in document order, without repeats. */
  links: string[];
  /** `<meta name="robots" content="noindex">`: the page asks not to be stored. */
  noindex: boolean;
  /** `<meta name="robots" content="nofollow">`: the page asks that its links not be followed. */
  nofollow: boolean;
}

/** Elements whose content is never document text. */
const DROPPED = new Set([
  "script", "style", "noscript", "template", "nav", "header", "footer", "aside", "svg", "canvas", "iframe",
  "object", "embed", "audio", "video", "select", "datalist",
]);

/** ARIA landmarks of page chrome, for sites that use divs instead of nav/header/footer. */
const DROPPED_ROLES = new Set(["navigation", "banner", "contentinfo", "search"]);

/**
 * Class names of navigation bars in generated manuals (DocBook's, as in the PostgreSQL
 * manual, repeat "Prev Up Next Home" and the neighbours' titles on every page).
 */
const DROPPED_CLASSES = new Set(["navheader", "navfooter"]);
/** The same, to rule most class attributes out by a substring search before splitting them. */
const DROPPED_CLASS_LIST = [...DROPPED_CLASSES];

/** Elements that end a paragraph (a blank line) or a line. */
const PARAGRAPH = new Set([
  "p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "table", "ul", "ol", "dl", "figure", "section",
  "article", "main", "hr", "address", "fieldset", "details",
]);
const LINE = new Set([
  "div", "li", "tr", "br", "dt", "dd", "caption", "figcaption", "summary", "legend", "option", "form", "tbody",
  "thead", "tfoot",
]);
const CELL = new Set(["td", "th"]);

/** The attributes the extraction reads; the parser skips the values of all others. */
const ATTRIBUTES = new Set(["href", "rel", "class", "role", "hidden", "aria-hidden", "name", "content"]);

/** Characters fed to the parser between chances to yield, and links resolved between them. */
const SLICE_CHARS = 32_768;
const SLICE_LINKS = 1_000;
/** The longest the async extraction runs before it yields to the event loop. */
const SLICE_MS = 20;

export function extractHtml(html: string, pageUrl: string): HtmlPage {
  const steps = extractSteps(html, pageUrl);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * extractHtml without holding the event loop: the page is parsed in slices, and a macrotask is awaited
 * whenever about SLICE_MS of work has been done, so timers, I/O and aborts are served during a big page.
 */
export async function extractHtmlAsync(html: string, pageUrl: string): Promise<HtmlPage> {
  const steps = extractSteps(html, pageUrl);
  let sliceStart = performance.now();
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    if (performance.now() - sliceStart >= SLICE_MS) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      sliceStart = performance.now();
    }
  }
}

/** The extraction as steps: it yields after each slice of the page and of its links. */
function* extractSteps(html: string, pageUrl: string): Generator<undefined, HtmlPage, void> {
  const page = new PageHandler();
  const tree = new LinearParser(html, page, { attributes: ATTRIBUTES });
  while (!tree.step(SLICE_CHARS)) yield;
  const baseUrl = (page.base !== undefined ? normalizeUrl(page.base, pageUrl) : undefined) ?? pageUrl;
  const links = page.nofollow ? [] : yield* resolveLinks(page.rawLinks, baseUrl);
  return {
    title: collapse(page.title) || collapse(page.h1 ?? ""),
    text: page.text.finish(),
    links,
    noindex: page.noindex,
    nofollow: page.nofollow,
  };
}

/** What the parse of one page gathers: its text, title, links, `<base>` and robots directives. */
class PageHandler implements TreeHandler {
  readonly text = new TextBuilder();
  readonly rawLinks: string[] = [];
  /** Whether each open element is dropped, the current one last. */
  readonly #stack: boolean[] = [];
  #dropDepth = 0;
  #preDepth = 0;
  #inHead = false;
  #inTitle = false;
  #titleDone = false;
  title = "";
  h1: string | undefined;
  #inH1 = false;
  #h1Text = "";
  base: string | undefined;
  noindex = false;
  nofollow = false;

  onopentag(name: string, attribs: Record<string, string>): void {
    const dropped = this.#dropDepth > 0 || DROPPED.has(name) || isChrome(attribs);
    this.#stack.push(dropped);
    if (dropped) this.#dropDepth++;
    switch (name) {
      case "head":
        this.#inHead = true;
        break;
      case "body":
        this.#inHead = false;
        break;
      case "title":
        // Only the document's own title: not a second one, nor an <svg><title> tooltip.
        if (!dropped && !this.#titleDone) this.#inTitle = true;
        break;
      case "h1":
        if (this.h1 === undefined && !dropped) this.#inH1 = true;
        break;
      case "pre":
      case "textarea":
        this.#preDepth++;
        break;
      case "base":
        if (this.base === undefined && attribs.href) this.base = attribs.href;
        break;
      case "meta":
        this.#robotsMeta(attribs);
        break;
      case "a":
      case "area":
        if (attribs.href !== undefined && !/\bnofollow\b/i.test(attribs.rel ?? "")) this.rawLinks.push(attribs.href);
        break;
    }
    if (dropped || this.#inHead) return;
    if (PARAGRAPH.has(name)) this.text.breakLines(2);
    else if (LINE.has(name)) this.text.breakLines(1);
    else if (CELL.has(name)) this.text.space();
  }

  ontext(data: string): void {
    if (this.#inTitle) {
      this.title += data;
      return;
    }
    if (this.#dropDepth > 0 || this.#inHead) return;
    if (this.#inH1) this.#h1Text += data;
    this.text.add(data, this.#preDepth > 0);
  }

  onclosetag(name: string): void {
    const dropped = this.#stack.pop() === true;
    if (dropped) this.#dropDepth--;
    switch (name) {
      case "head":
        this.#inHead = false;
        break;
      case "title":
        if (this.#inTitle) this.#titleDone = true;
        this.#inTitle = false;
        break;
      case "h1":
        if (this.#inH1) {
          this.#inH1 = false;
          this.h1 = this.#h1Text;
        }
        break;
      case "pre":
      case "textarea":
        this.#preDepth = Math.max(0, this.#preDepth - 1);
        break;
    }
    if (dropped || this.#inHead) return;
    if (PARAGRAPH.has(name)) this.text.breakLines(2);
    else if (LINE.has(name) && name !== "br") this.text.breakLines(1);
    else if (CELL.has(name)) this.text.space();
  }

  /** `<meta name="robots" content="noindex, nofollow">`. */
  #robotsMeta(attribs: Record<string, string>): void {
    if (attribs.name?.trim().toLowerCase() !== "robots" || !attribs.content) return;
    const directives = attribs.content.toLowerCase().split(",").map((d) => d.trim());
    if (directives.includes("noindex") || directives.includes("none")) this.noindex = true;
    if (directives.includes("nofollow") || directives.includes("none")) this.nofollow = true;
  }
}

/** The page's hrefs as absolute, normalized URLs without repeats, in document order; yields between slices of them. */
function* resolveLinks(rawLinks: string[], baseUrl: string): Generator<undefined, string[], void> {
  const links: string[] = [];
  const seen = new Set<string>();
  const hrefs = new Set<string>();
  // A plain file name next to the page ("sql-select.html", "x.html#frag") resolves by concatenation.
  const q = baseUrl.indexOf("?");
  const dir = baseUrl.slice(0, baseUrl.lastIndexOf("/", q < 0 ? baseUrl.length : q) + 1);
  for (let i = 0; i < rawLinks.length; i++) {
    if (i > 0 && i % SLICE_LINKS === 0) yield;
    const href = rawLinks[i];
    // The same href twice on a page is one link: resolve it once.
    if (hrefs.has(href)) continue;
    hrefs.add(href);
    const url = resolveSimple(href, baseUrl, dir) ?? normalizeUrl(href, baseUrl);
    if (url !== undefined && !seen.has(url)) {
      seen.add(url);
      links.push(url);
    }
  }
  return links;
}

/** A file name of unreserved characters (no dot segment), optionally with a fragment. */
const SIMPLE_HREF = /^(?:[A-Za-z0-9_~-][A-Za-z0-9._~-]*)?(?:#.*)?$/s;

/**
 * `href` resolved against the normalized `baseUrl` without URL parsing when it is a plain file name in the
 * base's folder (`dir`) or a bare fragment; what normalizeUrl would return. Undefined for anything else.
 */
function resolveSimple(href: string, baseUrl: string, dir: string): string | undefined {
  if (!SIMPLE_HREF.test(href) || dir === "" || !/^(?:https?|file):\/\//.test(dir)) return undefined;
  const hash = href.indexOf("#");
  const name = hash < 0 ? href : href.slice(0, hash);
  return name === "" ? baseUrl : dir + name;
}

function isChrome(attribs: Record<string, string>): boolean {
  if (attribs.hidden !== undefined || attribs["aria-hidden"] === "true") return true;
  if (attribs.role !== undefined && DROPPED_ROLES.has(attribs.role.trim().toLowerCase())) return true;
  const names = attribs.class;
  if (names !== undefined && DROPPED_CLASS_LIST.some((c) => names.includes(c))) {
    for (const c of names.split(/\s+/)) if (DROPPED_CLASSES.has(c)) return true;
  }
  return false;
}

function collapse(s: string): string {
  return s.replace(/\s+/g, " ").trim();
}

/**
 * Accumulates text with collapsed whitespace, at most one blank line between blocks, and `<pre>` kept as is.
 * Text between two breaks is collected raw and collapsed once, since a page has far more text nodes
 * (most of them the whitespace between tags) than lines.
 */
class TextBuilder {
  #parts: string[] = [];
  /** Raw text since the last break or `<pre>` text, to be collapsed. */
  #run = "";
  #atLineStart = true;
  #pendingSpace = false;
  #pendingBreaks = 0;
  /** Whether `<pre>` text was added: only it can leave whitespace before a line break, or three breaks in a row. */
  #hadPre = false;

  add(data: string, pre: boolean): void {
    if (!pre) {
      this.#run += data;
      return;
    }
    this.#hadPre = true;
    this.#flushRun();
    if (data === "") return;
    this.#flushBreaks();
    if (this.#pendingSpace && !this.#atLineStart) this.#parts.push(" ");
    this.#pendingSpace = false;
    this.#parts.push(data);
    this.#atLineStart = data.endsWith("\n");
  }

  /** Ends the current line: `n` = 1 for a new line, 2 for a new paragraph. */
  breakLines(n: number): void {
    this.#flushRun();
    if (this.#parts.length === 0) return;
    this.#pendingBreaks = Math.max(this.#pendingBreaks, n);
    this.#pendingSpace = false;
  }

  space(): void {
    this.#run += " ";
  }

  finish(): string {
    this.#flushRun();
    let text = this.#parts.join("");
    if (!this.#hadPre) return text.trim();
    if (/[^\S\n]\n/.test(text)) text = text.split("\n").map((line) => line.trimEnd()).join("\n");
    return text.replace(/\n{3,}/g, "\n\n").trim();
  }

  #flushRun(): void {
    if (this.#run === "") return;
    const collapsed = this.#run.replace(/\s+/g, " ");
    this.#run = "";
    if (collapsed === "" || collapsed === " ") {
      if (collapsed === " ") this.#pendingSpace = true;
      return;
    }
    const leading = collapsed.startsWith(" ");
    const trailing = collapsed.endsWith(" ");
    const core = collapsed.slice(leading ? 1 : 0, trailing ? -1 : undefined);
    this.#flushBreaks();
    if ((leading || this.#pendingSpace) && !this.#atLineStart) this.#parts.push(" ");
    this.#parts.push(core);
    this.#atLineStart = false;
    this.#pendingSpace = trailing;
  }

  #flushBreaks(): void {
    if (this.#pendingBreaks === 0) return;
    if (!this.#atLineStart) this.#parts.push("\n".repeat(this.#pendingBreaks));
    else if (this.#pendingBreaks === 2) this.#parts.push("\n");
    this.#pendingBreaks = 0;
    this.#atLineStart = true;
  }
}
