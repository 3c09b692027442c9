/**
 * Which responses are documents: a Content-Type header read into its media
 * type and charset, and the kind of text it is (HTML, markdown or plain), with
 * the URL's extension as the fallback when a server sends no type or a generic one.
 *
 * @example
 * ```ts
 * import { parseContentType, textKind } from "./content-type.ts";
 *
 * parseContentType('text/html; charset="Shift_JIS"'); // { type: "text/html", charset: "shift_jis" }
 * textKind("text/plain", "https://example.com/README.md"); // "markdown"
 * textKind("image/png", "https://example.com/logo.png"); // undefined
 * ```
 */

export type TextKind = "html" | "markdown" | "plain";

export interface ContentType {
  /** The media type, lowercased; "" when there was none. */
  type: string;
  charset?: string;
}

export function parseContentType(value: string | null | undefined): ContentType {
  if (!value) return { type: "" };
  const [type, ...params] = value.split(";");
  const out: ContentType = { type: type.trim().toLowerCase() };
  for (const param of params) {
    const eq = param.indexOf("=");
    if (eq < 0) continue;
    if (param.slice(0, eq).trim().toLowerCase() !== "charset") continue;
    const charset = param.slice(eq + 1).trim().replace(/^["']|["']$/g, "").trim().toLowerCase();
    if (charset) out.charset = charset;
  }
  return out;
}

const BY_TYPE: Record<string, TextKind> = {
  "text/html": "html",
  "application/xhtml+xml": "html",
  "text/markdown": "markdown",
  "text/x-markdown": "markdown",
  "text/plain": "plain",
};

const BY_EXTENSION: Record<string, TextKind> = {
  html: "html",
  htm: "html",
  xhtml: "html",
  md: "markdown",
  markdown: "markdown",
  txt: "plain",
  text: "plain",
};

/** The extension of a URL's or path's last segment, lowercased, or "". */
export function extensionOf(pathOrUrl: string): string {
  const path = pathOrUrl.includes("://") ? new URL(pathOrUrl).pathname : pathOrUrl;
  const name = path.slice(path.lastIndexOf("/") + 1);
  const dot = name.lastIndexOf(".");
  return dot <= 0 ? "" : name.slice(dot + 1).toLowerCase();
}

/** The kind of a file by its extension alone (local crawls), or undefined. */
export function kindOfExtension(pathOrUrl: string): TextKind | undefined {
  return BY_EXTENSION[extensionOf(pathOrUrl)];
}

/**
 * The kind of document a response is, or undefined when it is not text we keep.
 * `text/plain` for a `.md` URL is markdown: static servers rarely know the markdown type.
 */
export function textKind(type: string, url: string): TextKind | undefined {
  const byExtension = kindOfExtension(url);
  if (type === "" || type === "application/octet-stream") return byExtension;
  const kind = BY_TYPE[type];
  if (kind === "plain" && byExtension === "markdown") return "markdown";
  return kind;
}
