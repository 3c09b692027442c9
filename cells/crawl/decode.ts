/**
 * Bytes to text, with the charset chosen the way browsers choose it: a byte
 * order mark, then the Content-Type header, then (for HTML) a `<meta charset>`,
 * `<meta http-equiv="Content-Type">` or XML declaration found by the HTML
 * spec's prescan of the first bytes, then UTF-8 (falling back to windows-1252, HTML's
 * default, when undeclared bytes are not UTF-8). Bytes that look binary (NULs,
 * control characters) are `not_text` whatever their label. Declared charsets are decoded
 * strictly: bytes that are not valid in them are `undecodable`, never silently
 * replaced. Labels the WHATWG TextDecoder lacks are decoded with iconv-lite.
 *
 * @example
 * ```ts
 * import { decodeText } from "./decode.ts";
 *
 * declare const bytes: Uint8Array;
 * decodeText(bytes, "html", "windows-1252"); // { ok: true, text: "café", charset: "windows-1252" }
 * decodeText(new Uint8Array([0xc3, 0x28]), "plain", "utf-8"); // { ok: false, reason: "undecodable", ... }
 * ```
 */
import iconv from "iconv-lite";
import { parseContentType, type TextKind } from "./content-type.ts";

export type Decoded =
  | { ok: true; text: string; charset: string }
  | { ok: false; reason: "undecodable" | "not_text"; detail: string };

/** How far into an HTML document a charset declaration is looked for (the HTML spec prescans 1024 bytes). */
const PRESCAN_BYTES = 4096;

export function decodeText(bytes: Uint8Array, kind: TextKind, headerCharset?: string): Decoded {
  const bom = bomCharset(bytes);
  // UTF-16 text is full of NUL bytes; only ASCII-compatible encodings can be checked for binary.
  if (!bom && !headerCharset?.startsWith("utf-16") && looksBinary(bytes)) {
    return { ok: false, reason: "not_text", detail: "binary content (NUL or control bytes) where text was expected" };
  }
  const declared = bom
    ? { label: bom, source: "byte order mark" }
    : headerCharset
    ? { label: headerCharset, source: "Content-Type header" }
    : kind === "html"
    ? prescanHtml(bytes)
    : undefined;
  if (declared) {
    const text = decodeWith(bytes, declared.label, true);
    if (text === UNKNOWN_LABEL) {
      // Browsers ignore labels they do not know; so do we, and decode as if nothing had been declared.
    } else if (text === undefined) {
      return { ok: false, reason: "undecodable", detail: `bytes are not valid ${declared.label} (declared by the ${declared.source})` };
    } else {
      return { ok: true, text, charset: canonicalLabel(declared.label) };
    }
  }
  const utf8 = decodeWith(bytes, "utf-8", true);
  if (typeof utf8 === "string") return { ok: true, text: utf8, charset: "utf-8" };
  // Undeclared and not UTF-8: what browsers assume for Western text (and what HTML specifies).
  return { ok: true, text: decodeWith(bytes, "windows-1252", false) as string, charset: "windows-1252" };
}

/** True when the first bytes hold NULs or many control characters: a binary file, whatever its label says. */
function looksBinary(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, 1024);
  let controls = 0;
  for (let i = 0; i < n; i++) {
    const b = bytes[i];
    if (b === 0) return true;
    // Tab, LF, FF, CR and ESC (ISO-2022 escapes) are text.
    if (b < 0x20 && b !== 9 && b !== 10 && b !== 12 && b !== 13 && b !== 27) controls++;
  }
  return n > 0 && controls / n > 0.1;
}

/** True when undeclared bytes look like an HTML document (for servers that send no Content-Type). */
export function looksLikeHtml(bytes: Uint8Array): boolean {
  const head = latin1(bytes.subarray(0, 1024)).trimStart().toLowerCase();
  return head.startsWith("<!doctype html") || head.startsWith("<html") ||
    (head.startsWith("<") && (head.includes("<html") || head.includes("<head") || head.includes("<body")));
}

const UNKNOWN_LABEL = Symbol("unknown label");

/**
 * Node 20's TextDecoder decodes windows-1252 (and its aliases latin1, iso-8859-1, ascii) as
 * ISO-8859-1, turning “smart quotes”, – and € into C1 control characters; iconv-lite gets them right.
 */
const BROKEN_WINDOWS_1252 = new TextDecoder("windows-1252").decode(Uint8Array.of(0x80)) !== "€";

function decodeWith(bytes: Uint8Array, label: string, fatal: boolean): string | undefined | typeof UNKNOWN_LABEL {
  let decoder: TextDecoder | undefined;
  try {
    decoder = new TextDecoder(label, { fatal });
  } catch {
    decoder = undefined;
  }
  if (decoder?.encoding === "windows-1252" && BROKEN_WINDOWS_1252) {
    return iconv.decode(bytes as Parameters<typeof iconv.decode>[0], "win1252");
  }
  if (decoder) {
    try {
      return decoder.decode(bytes);
    } catch {
      return undefined;
    }
  }
  if (!iconv.encodingExists(label)) return UNKNOWN_LABEL;
  // iconv-lite has no strict mode; the labels that reach it (code pages such as cp437) map every byte.
  return iconv.decode(bytes as Parameters<typeof iconv.decode>[0], label, { stripBOM: true });
}

function canonicalLabel(label: string): string {
  try {
    return new TextDecoder(label).encoding;
  } catch {
    return label.toLowerCase();
  }
}

function bomCharset(bytes: Uint8Array): string | undefined {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return "utf-8";
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return "utf-16be";
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return "utf-16le";
  return undefined;
}

/**
 * The charset an HTML document declares in its first bytes, found the way the HTML spec's prescan
 * finds it (https://html.spec.whatwg.org/#prescan-a-byte-stream-to-determine-its-encoding): one pass
 * over the bytes that skips comments, other tags and `<!...>`/`</...>`/`<?...>` constructs and reads
 * the attributes of each `<meta>`; plus the XML declaration. No parser, no string of the page.
 */
function prescanHtml(bytes: Uint8Array): { label: string; source: string } | undefined {
  const end = Math.min(bytes.length, PRESCAN_BYTES);
  let found: { label: string; source: string } | undefined;
  let i = 0;
  while (i < end && !found) {
    if (bytes[i] !== 0x3c /* < */) {
      i++;
      continue;
    }
    const next = bytes[i + 1];
    if (next === 0x21 /* ! */ && bytes[i + 2] === 0x2d && bytes[i + 3] === 0x2d) {
      // <!-- ... -->: the arrow may share the opening's dashes ("<!-->").
      let j = i + 2;
      while (j < end && !(bytes[j] === 0x2d && bytes[j + 1] === 0x2d && bytes[j + 2] === 0x3e)) j++;
      i = j + 3;
    } else if (asciiLower(next) === 0x6d && matchesLower(bytes, i + 1, "meta") && isSpaceOrSlash(bytes[i + 5])) {
      const at = { i: i + 6 };
      const attribs = new Map<string, string>();
      for (let a = getAttribute(bytes, at, end); a; a = getAttribute(bytes, at, end)) {
        if (!attribs.has(a.name)) attribs.set(a.name, a.value);
      }
      i = at.i;
      const charset = attribs.get("charset")?.trim().toLowerCase();
      const content = attribs.get("content");
      if (charset) {
        found = { label: charset, source: "<meta charset>" };
      } else if (attribs.get("http-equiv")?.trim().toLowerCase() === "content-type" && content) {
        const fromContent = parseContentType(content).charset;
        if (fromContent) found = { label: fromContent, source: `<meta http-equiv="Content-Type">` };
      }
    } else if (isAsciiLetter(next) || (next === 0x2f /* / */ && isAsciiLetter(bytes[i + 2]))) {
      // Another start or end tag: skip its name and attributes.
      let j = i + 2;
      while (j < end && !isSpaceOrSlash(bytes[j]) && bytes[j] !== 0x3e) j++;
      const at = { i: j };
      while (getAttribute(bytes, at, end));
      i = at.i;
    } else if (next === 0x3f /* ? */ && matchesLower(bytes, i + 2, "xml")) {
      let j = i + 5;
      while (j < end && bytes[j] !== 0x3e) j++;
      const data = latin1(bytes.subarray(i + 5, j));
      const encoding = xmlDeclarationEncoding(data);
      if (encoding) found = { label: encoding, source: "XML declaration" };
      i = j + 1;
    } else if (next === 0x21 || next === 0x2f || next === 0x3f) {
      let j = i + 2;
      while (j < end && bytes[j] !== 0x3e) j++;
      i = j + 1;
    } else {
      i++;
    }
  }
  // A document readable as ASCII to find its declaration is not UTF-16, whatever it says (HTML spec).
  if (found && /^utf-16/.test(found.label)) found.label = "utf-8";
  if (found?.label === "x-user-defined") found.label = "windows-1252";
  return found;
}

/**
 * The spec's "get an attribute" at `at.i`: its lowercased name and value (quotes removed), moving
 * `at.i` past it; undefined at the tag's end (`at.i` then past the `>`).
 */
function getAttribute(bytes: Uint8Array, at: { i: number }, end: number): { name: string; value: string } | undefined {
  let i = at.i;
  while (i < end && (isSpace(bytes[i]) || bytes[i] === 0x2f)) i++;
  if (i >= end || bytes[i] === 0x3e) {
    at.i = i + 1;
    return undefined;
  }
  let name = "";
  let value = "";
  for (;;) {
    if (i >= end) return (at.i = end), undefined;
    const b = bytes[i];
    if (b === 0x3d /* = */ && name !== "") break;
    if (isSpace(b)) {
      while (i < end && isSpace(bytes[i])) i++;
      if (bytes[i] !== 0x3d) return (at.i = i), { name, value: "" };
      break;
    }
    if (b === 0x2f || b === 0x3e) return (at.i = i), { name, value: "" };
    name += String.fromCharCode(asciiLower(b));
    i++;
  }
  i++; // past the "="
  while (i < end && isSpace(bytes[i])) i++;
  const quote = bytes[i];
  if (quote === 0x22 || quote === 0x27) {
    const close = bytes.indexOf(quote, i + 1);
    const stop = close < 0 || close >= end ? end : close;
    value = latin1(bytes.subarray(i + 1, stop));
    at.i = stop + 1;
    return { name, value };
  }
  const start = i;
  while (i < end && !isSpace(bytes[i]) && bytes[i] !== 0x3e) i++;
  value = latin1(bytes.subarray(start, i));
  at.i = i;
  return { name, value };
}

function isSpace(b: number | undefined): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0c || b === 0x0d;
}

function isSpaceOrSlash(b: number | undefined): boolean {
  return b === 0x2f || isSpace(b);
}

function isAsciiLetter(b: number | undefined): boolean {
  return b !== undefined && ((b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a));
}

function asciiLower(b: number | undefined): number {
  return b !== undefined && b >= 0x41 && b <= 0x5a ? b + 0x20 : (b ?? -1);
}

/** True when the bytes at `at` spell `word` (lowercase ASCII), ignoring ASCII case. */
function matchesLower(bytes: Uint8Array, at: number, word: string): boolean {
  for (let k = 0; k < word.length; k++) if (asciiLower(bytes[at + k]) !== word.charCodeAt(k)) return false;
  return true;
}

/** `encoding="..."` from the inside of `<?xml version="1.0" encoding="UTF-8"?>`. */
function xmlDeclarationEncoding(data: string): string | undefined {
  const at = data.indexOf("encoding");
  if (at < 0) return undefined;
  let i = data.indexOf("=", at);
  if (i < 0) return undefined;
  i++;
  while (data[i] === " ") i++;
  const quote = data[i];
  if (quote !== '"' && quote !== "'") return undefined;
  const end = data.indexOf(quote, i + 1);
  return end < 0 ? undefined : data.slice(i + 1, end).trim().toLowerCase() || undefined;
}

const LATIN1 = new TextDecoder("latin1");

function latin1(bytes: Uint8Array): string {
  return LATIN1.decode(bytes);
}
