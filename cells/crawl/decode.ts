/**
 * Bytes to text, with the charset chosen the way browsers choose it: a byte
 * order mark, then the Content-Type header, then (for HTML) a `<meta charset>`,
 * `<meta http-equiv="Content-Type">` or XML declaration found by a real HTML
 * parser in the first bytes, then UTF-8 (falling back to windows-1252, HTML's
 * default, when undeclared bytes are not UTF-8). Bytes that look binary (NULs,
 * control characters) are `not_text` whatever their label. Declared charsets are decoded
 * strictly: bytes that are not valid in them are `undecodable`, never silently
 * replaced. Labels the WHATWG TextDecoder lacks are decoded with iconv-lite.
 *
 * @example
 * decodeText(bytes, "html", "windows-1252"); // { ok: true, text: "café", charset: "windows-1252" }
 * decodeText(new Uint8Array([0xc3, 0x28]), "plain", "utf-8"); // { ok: false, reason: "undecodable", ... }
 */
import { Parser } from "htmlparser2";
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
export function looksBinary(bytes: Uint8Array): boolean {
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

/** The charset an HTML document declares in its first bytes, read with a real parser. */
function prescanHtml(bytes: Uint8Array): { label: string; source: string } | undefined {
  let found: { label: string; source: string } | undefined;
  const parser = new Parser({
    onopentag(name, attribs) {
      if (found || name !== "meta") return;
      if (attribs.charset) {
        found = { label: attribs.charset.trim().toLowerCase(), source: "<meta charset>" };
      } else if (attribs["http-equiv"]?.trim().toLowerCase() === "content-type" && attribs.content) {
        const charset = parseContentType(attribs.content).charset;
        if (charset) found = { label: charset, source: `<meta http-equiv="Content-Type">` };
      }
    },
    onprocessinginstruction(name, data) {
      if (found || name.toLowerCase() !== "?xml") return;
      const encoding = xmlDeclarationEncoding(data);
      if (encoding) found = { label: encoding, source: "XML declaration" };
    },
  });
  parser.write(latin1(bytes.subarray(0, PRESCAN_BYTES)));
  parser.end();
  // A document readable as ASCII to find its declaration is not UTF-16, whatever it says (HTML spec).
  if (found && /^utf-16/.test(found.label)) found.label = "utf-8";
  if (found?.label === "x-user-defined") found.label = "windows-1252";
  return found;
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
