/**
 * A cell's TypeScript source as written: the `.cell(…)` call at the cell's call site, read from its file.
 * `fn.toString()` would show what tsx or Deno transpiled it to, without its types; it is the fallback.
 *
 * @example
 * ```ts
 * import { pipeline } from "../../kernel/mod.ts";
 * import { cellSource } from "./cell-source.ts";
 *
 * const hello = pipeline({ id: "hello" }).cell("greet", () => "hi");
 * const text = await cellSource(hello.getCell("greet")); // → '.cell("greet", () => "hi")'
 * ```
 */
import { type Pipeline, runtime } from "../../kernel/mod.ts";

type CellDef = Pipeline["cells"][number];

export async function cellSource(cell: CellDef): Promise<string> {
  const site = cell.callSite;
  if (site) {
    try {
      const path = site.file.startsWith("file:") ? runtime.fromFileUrl(site.file) : site.file;
      const text = await runtime.readTextFile(path);
      const call = cellCall(text, site.line, cell.name);
      if (call) return call;
    } catch {
      // The file moved or is unreadable: show the function as the runtime has it.
    }
  }
  return dedentFunction(cell.fn.toString());
}

/**
 * `fn.toString()` keeps each line after the first at its column in the file, so a cell defined indented (or
 * named by a constant, which cellCall does not match) would show its body far to the right: the lines are
 * shifted left by the indentation of the last, the closing brace's.
 */
function dedentFunction(text: string): string {
  const last = text.slice(text.lastIndexOf("\n") + 1);
  return text.includes("\n") ? dedent(text, /^[ \t]*/.exec(last)![0].length) : text;
}

/** The `.cell(` call that starts on `line` (1-based) and names `name`, up to its closing parenthesis. */
export function cellCall(text: string, line: number, name: string): string | undefined {
  let at = 0;
  for (let l = 1; l < line && at >= 0; l++) at = text.indexOf("\n", at) + 1;
  const start = text.indexOf("cell(", at);
  if (start < 0) return undefined;
  const end = closingParen(text, start + "cell".length);
  if (end === undefined) return undefined;
  const dot = text[start - 1] === "." ? start - 1 : start;
  const call = text.slice(dot, end + 1);
  const indent = /^[ \t]*/.exec(text.slice(at))![0].length;
  return call.includes(JSON.stringify(name)) || call.includes(`'${name}'`) || call.includes(`\`${name}\``) ? dedent(call, indent) : undefined;
}

/** The index of the parenthesis closing the one at `open`, skipping strings, templates and comments. */
function closingParen(text: string, open: number): number | undefined {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (c === '"' || c === "'" || c === "`") {
      for (i++; i < text.length && text[i] !== c; i++) if (text[i] === "\\") i++;
    } else if (c === "/" && text[i + 1] === "/") {
      i = text.indexOf("\n", i);
      if (i < 0) return undefined;
    } else if (c === "/" && text[i + 1] === "*") {
      i = text.indexOf("*/", i + 2) + 1;
      if (i <= 0) return undefined;
    } else if (c === "(" || c === "[" || c === "{") {
      depth++;
    } else if (c === ")" || c === "]" || c === "}") {
      if (--depth === 0) return i;
    }
  }
  return undefined;
}

/** Removes the indentation of the line the call starts on, so a chained `.cell` reads from column 0. */
function dedent(call: string, indent: number): string {
  const [first, ...rest] = call.split("\n");
  return [first, ...rest.map((l) => (/^\s*$/.test(l.slice(0, indent)) ? l.slice(indent) : l))].join("\n");
}
