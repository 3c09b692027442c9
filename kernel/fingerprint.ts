/**
 * A cell's code version: a hash of its source as written in its .ts file.
 *
 * `fn.toString()` would differ between tsx and Deno, which transpile
 * differently, and a database must give the same cache hits whichever runtime
 * opens it. So we parse the file that called `.cell()` and take:
 * - an inline function: its own text;
 * - a function declared in that file: its declaration;
 * - a function imported from a project file: that file and the project files it
 *   imports, transitively (changing a helper the cell calls is a code change).
 *
 * @example
 * ```ts
 * import { codeVersion } from "./fingerprint.ts";
 * import type { Pipeline } from "./pipeline.ts";
 * declare const pipeline: Pipeline;
 *
 * const version = await codeVersion(pipeline.getCell("embed_docs"));
 * ```
 */
import { parseSync } from "oxc-parser";
import type { CellDef } from "./pipeline.ts";
import { runtime } from "./runtime/mod.ts";
import { sha256 } from "./hash.ts";

// deno-lint-ignore no-explicit-any
type Node = any;

interface Parsed {
  path: string;
  text: string;
  /** The syntax tree, built on first use. */
  readonly program: Node;
  /** Local name → [relative specifier, imported name]. */
  imports: Map<string, [string, string]>;
  relativeImports: string[];
  /** Every `.cell(...)` call in the file, found on first use. */
  readonly cellCalls: Node[];
}

const parsedFiles = new Map<string, Promise<Parsed | undefined>>();
const moduleVersions = new Map<string, Promise<string>>();

const cellVersions = new WeakMap<CellDef, Promise<string>>();

/**
 * Forgets every file text read so far: a long-lived process (the server) calls it when a pipeline file
 * changed, so that a reloaded pipeline's cells are versioned from the text now on disk.
 */
export function forgetFileVersions(): void {
  parsedFiles.clear();
  moduleVersions.clear();
}

export function codeVersion(cell: CellDef): Promise<string> {
  let version = cellVersions.get(cell);
  if (!version) cellVersions.set(cell, version = computeCodeVersion(cell));
  return version;
}

async function computeCodeVersion(cell: CellDef): Promise<string> {
  const site = cell.callSite;
  const parsed = site ? await parseFile(site.file) : undefined;
  if (!parsed || !site) return sha256(`fn:${cell.fn.toString()}`);
  const call = findCellCall(parsed, cell.name, site.line);
  const fnNode = call?.arguments.at(-1);
  if (!fnNode) return sha256(`fn:${cell.fn.toString()}`);
  if (fnNode.type !== "Identifier") return sha256(`src:${parsed.text.slice(fnNode.start, fnNode.end)}`);

  const imported = parsed.imports.get(fnNode.name);
  if (imported && isRelative(imported[0])) {
    const target = runtime.resolve(runtime.dirname(parsed.path), imported[0]);
    return sha256(`module:${imported[1]}:${await moduleVersion(target)}`);
  }
  const declaration = findDeclaration(parsed.program, fnNode.name);
  return sha256(declaration ? `src:${parsed.text.slice(declaration.start, declaration.end)}` : `fn:${cell.fn.toString()}`);
}

function parseFile(fileOrUrl: string): Promise<Parsed | undefined> {
  const path = fileOrUrl.startsWith("file:") ? runtime.fromFileUrl(fileOrUrl) : fileOrUrl;
  let parsed = parsedFiles.get(path);
  if (!parsed) {
    parsed = (async () => {
      let text: string;
      try {
        text = await runtime.readTextFile(path);
      } catch {
        return undefined;
      }
      const result = parseSync(path, text);
      const imports = new Map<string, [string, string]>();
      const relativeImports: string[] = [];
      for (const entry of result.module.staticImports) {
        const specifier = entry.moduleRequest.value;
        if (isRelative(specifier)) relativeImports.push(specifier);
        for (const e of entry.entries) {
          const importedName = e.importName.kind === "Name" ? e.importName.name ?? "" : "default";
          imports.set(e.localName.value, [specifier, importedName]);
        }
      }
      for (const entry of result.module.staticExports) {
        for (const e of entry.entries) {
          const specifier = e.moduleRequest?.value;
          if (specifier && isRelative(specifier)) relativeImports.push(specifier);
        }
      }
      // The tree is built (from oxc's JSON) and walked only for a file whose `.cell()` calls are read: a module
      // versioned by its text and imports alone (most of a run's files) needs neither.
      let cellCalls: Node[] | undefined;
      return {
        path, text, imports, relativeImports,
        get program() {
          return result.program;
        },
        get cellCalls() {
          return cellCalls ??= findCellCalls(result.program);
        },
      };
    })();
    parsedFiles.set(path, parsed);
  }
  return parsed;
}

/**
 * A module file's version as a cell imported from it would get: its text and the project files it imports,
 * transitively, hashed. kernel/remote/code-version.ts versions task modules by it.
 */
export function moduleCodeVersion(path: string): Promise<string> {
  return moduleVersion(path);
}

/** The text of a project module and of every project module it imports, hashed. */
function moduleVersion(path: string, seen = new Set<string>()): Promise<string> {
  let version = moduleVersions.get(path);
  if (!version) {
    version = (async () => {
      seen.add(path);
      const parsed = await parseFile(path);
      if (!parsed) return sha256(`missing:${path}`);
      const parts = [parsed.text];
      for (const specifier of parsed.relativeImports) {
        const target = runtime.resolve(runtime.dirname(path), specifier);
        // An import cycle adds the module once; its own text is already in.
        if (!seen.has(target)) parts.push(await moduleVersion(target, seen));
      }
      return sha256(parts.join("\u0000"));
    })();
    moduleVersions.set(path, version);
  }
  return version;
}

function findCellCalls(program: Node): Node[] {
  const calls: Node[] = [];
  walk(program, (node) => {
    if (
      node.type === "CallExpression" && node.callee?.type === "MemberExpression" &&
      node.callee.property?.name === "cell" && node.arguments.length >= 2
    ) calls.push(node);
  });
  return calls;
}

/** The `.cell(name, ...)` call for this cell: by its name literal, else by the line it was called from. */
function findCellCall(parsed: Parsed, name: string, line: number): Node | undefined {
  const calls = parsed.cellCalls;
  const byName = calls.filter((c) => c.arguments[0].type === "Literal" && c.arguments[0].value === name);
  if (byName.length === 1) return byName[0];
  const lineStart = nthLineOffset(parsed.text, line);
  const lineEnd = nthLineOffset(parsed.text, line + 1);
  return calls.find((c) => c.callee.property.start >= lineStart && c.callee.property.start < lineEnd) ??
    calls.find((c) => c.start <= lineStart && c.end >= lineEnd);
}

function findDeclaration(program: Node, name: string): Node | undefined {
  for (let statement of program.body) {
    if (statement.type === "ExportNamedDeclaration" && statement.declaration) statement = statement.declaration;
    if (statement.type === "FunctionDeclaration" && statement.id?.name === name) return statement;
    if (statement.type === "VariableDeclaration") {
      const declarator = statement.declarations.find((d: Node) => d.id?.name === name);
      if (declarator) return declarator;
    }
  }
  return undefined;
}

function walk(node: Node, visit: (node: Node) => void): void {
  if (Array.isArray(node)) {
    for (const child of node) walk(child, visit);
  } else if (node && typeof node === "object") {
    if (typeof node.type === "string") visit(node);
    for (const key in node) {
      const child = node[key];
      if (child && typeof child === "object") walk(child, visit);
    }
  }
}

function nthLineOffset(text: string, line: number): number {
  let offset = 0;
  for (let i = 1; i < line; i++) {
    const next = text.indexOf("\n", offset);
    if (next === -1) return text.length;
    offset = next + 1;
  }
  return offset;
}

function isRelative(specifier: string): boolean {
  return specifier.startsWith("./") || specifier.startsWith("../");
}
