/**
 * The `seeds` param read into seeds. It is one of, or a comma-separated list of:
 * - a seeds file: one seed a line, `#` starting a comment line or, after
 *   whitespace, a trailing comment; relative paths in it are relative to the file.
 *   A named file is a seeds list or a document by this rule (the `seedsFile` param,
 *   "auto" by default, or "list" / "document" to choose):
 *   - .html .htm .md .markdown are documents, .jsonl .ndjson datasets, always;
 *   - a .txt/.text file is a seeds list when every non-blank, non-comment line is a
 *     seed (an http(s) or file:// URL, or a path that exists), a document when no
 *     line is, and refused as ambiguous when some lines are and some are not;
 *   - any other file (`seeds`, `urls.list`) is a seeds list, every line a seed;
 * - an http(s) URL;
 * - a local directory or file (.html, .htm, .md, .markdown, .txt), as a path or file:// URL;
 * - a JSONL dataset (.jsonl, .ndjson).
 * Anything else is refused with a CellarError naming the param or the file and line.
 *
 * @example
 * ```ts
 * import { resolveSeeds } from "./seeds.ts";
 *
 * await resolveSeeds("pipelines/data/cranfield/docs.jsonl");
 * // [{ kind: "jsonl", path: "/repo/pipelines/data/cranfield/docs.jsonl", given: "pipelines/data/cranfield/docs.jsonl" }]
 * await resolveSeeds("https://example.com/, docs/");
 * // [{ kind: "http", url: "https://example.com/", ... }, { kind: "local", path: "/repo/docs", directory: true, ... }]
 * ```
 */
import { CellarError, runtime } from "../../kernel/mod.ts";
import { extensionOf, kindOfExtension } from "./content-type.ts";
import { files } from "./files.ts";
import { normalizeUrl } from "./url.ts";

export type Seed =
  | { kind: "http"; url: string; given: string }
  | { kind: "local"; path: string; directory: boolean; given: string }
  | { kind: "jsonl"; path: string; given: string };

const DATASET_EXTENSIONS = new Set(["jsonl", "ndjson"]);
const EXPECTED = "an http(s) URL, a local directory or .html/.htm/.md/.txt file (path or file:// URL), or a .jsonl dataset";

/** How a named .txt file is read: by the rule (auto), or as the user chose. */
export type SeedsFileMode = "auto" | "list" | "document";

export async function resolveSeeds(param: unknown, seedsFile: SeedsFileMode = "auto"): Promise<Seed[]> {
  const entries = await splitParam(param);
  const seeds: Seed[] = [];
  for (const entry of entries) {
    const where = `param seeds (${JSON.stringify(entry)})`;
    const local = hasScheme(entry) ? undefined : runtime.resolve(entry);
    const info = local === undefined ? undefined : await files.stat(local);
    if (local !== undefined && info?.kind === "file" && !isDocumentOrDataset(local)) {
      const text = seedsFile === "document" && isText(local) ? undefined : await readSeedsFile(local, entry, seedsFile);
      seeds.push(...text ?? [{ kind: "local", path: local, directory: false, given: entry }]);
    } else {
      seeds.push(await parseSeed(entry, runtime.cwd(), where));
    }
  }
  return dedupe(seeds);
}

/**
 * The seeds of a seeds file; the first bad line fails with its line number. A .txt file read by the
 * rule (`mode` "auto") whose lines are none of them seeds is a document: undefined.
 */
async function readSeedsFile(path: string, givenName: string, mode: SeedsFileMode = "list"): Promise<Seed[] | undefined> {
  const given = shown(givenName);
  let text: string;
  try {
    text = await runtime.readTextFile(path);
  } catch (err) {
    throw new CellarError(`seeds file ${given}: cannot be read (${shown(err instanceof Error ? err.message : String(err))})`);
  }
  const dir = runtime.dirname(path);
  const seeds: Seed[] = [];
  const lines = text.split(/\r?\n/);
  const byRule = mode === "auto" && isText(path);
  let firstSeed = 0;
  let notSeed: { line: number; error: unknown } | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = stripComment(lines[i]).trim();
    if (line === "") continue;
    if (!byRule) {
      seeds.push(await parseSeed(line, dir, `seeds file ${given} line ${i + 1}`));
      continue;
    }
    try {
      seeds.push(await parseSeed(line, dir, `seeds file ${given} line ${i + 1}`));
      firstSeed ||= i + 1;
    } catch (err) {
      // A lone URL with a scheme that is not crawled (ftp://...) is a seed gone wrong, not prose.
      if (!(err instanceof CellarError) || /^[a-z][a-z0-9+.-]*:\/\/\S+$/i.test(line)) throw err;
      notSeed ??= { line: i + 1, error: err };
    }
    if (firstSeed && notSeed) {
      throw new CellarError(
        `${(notSeed.error as Error).message}; and line ${firstSeed} is a seed, so ${given} is neither all seeds nor a document: ` +
          `fix line ${notSeed.line} (or pass --param seedsFile=list) to read it as a seeds list, or pass --param seedsFile=document to read it as a document`,
      );
    }
  }
  if (notSeed) return undefined; // no line is a seed: a document
  if (seeds.length === 0) throw new CellarError(`seeds file ${given}: no seeds in it; expected one per line: ${EXPECTED}`);
  return seeds;
}

/** One seed, or a CellarError that says `where` it was and what was expected. */
async function parseSeed(text: string, baseDir: string, where: string): Promise<Seed> {
  const bad = (why: string): never => {
    throw new CellarError(`${where}: ${JSON.stringify(text)} ${why}; expected ${EXPECTED}`);
  };
  if (/\s/.test(text)) bad("is not one seed (it contains whitespace)");
  if (hasScheme(text)) {
    const scheme = text.slice(0, text.indexOf(":")).toLowerCase();
    if (scheme === "http" || scheme === "https") {
      let url: URL | undefined;
      try {
        url = new URL(text);
      } catch {
        bad("is not a valid URL");
      }
      if (!url!.hostname) bad("has no host");
      return { kind: "http", url: normalizeUrl(text)!, given: text };
    }
    if (scheme === "file") {
      let path: string | undefined;
      try {
        path = runtime.fromFileUrl(text);
      } catch {
        bad("is not a valid file:// URL");
      }
      return await localSeed(path!, text, bad);
    }
    return bad(`has an unsupported scheme "${scheme}:"`);
  }
  return await localSeed(runtime.resolve(baseDir, text), text, bad);
}

async function localSeed(path: string, given: string, bad: (why: string) => never): Promise<Seed> {
  const info = await files.stat(path);
  if (!info) return bad(`does not exist (${shown(path)})`);
  if (info.directory) return { kind: "local", path, directory: true, given };
  if (info.kind !== "file") {
    const what = info.kind === "fifo" ? "a FIFO (named pipe)" : info.kind === "other" ? "something else" : `a ${info.kind.replace("_", " ")}`;
    return bad(`is ${what}, not a regular file or a folder; it is never opened`);
  }
  if (DATASET_EXTENSIONS.has(extensionOf(path))) return { kind: "jsonl", path, given };
  if (kindOfExtension(path) === undefined) return bad(`is not a page, a markdown or text file, or a dataset (.${extensionOf(path) || "no extension"})`);
  return { kind: "local", path, directory: false, given };
}

/**
 * The param's entries: a list param as it is, a string split at commas. A piece that cannot start a
 * seed (no scheme, no such path) is glued back to the one before: a comma inside a URL's query stays.
 */
async function splitParam(param: unknown): Promise<string[]> {
  const fail = (): never => {
    throw new CellarError(`param seeds: expected a seeds file or a comma-separated list of seeds (${EXPECTED}), got ${JSON.stringify(param)}`);
  };
  if (Array.isArray(param)) {
    if (param.length === 0 || !param.every((p) => typeof p === "string" && p.trim() !== "")) fail();
    return param.map((p: string) => p.trim());
  }
  if (typeof param !== "string" || param.trim() === "") return fail();
  const pieces = param.split(",");
  const out: string[] = [];
  for (const piece of pieces) {
    const t = piece.trim();
    const startsSeed = t !== "" && (hasScheme(t) || (await files.stat(runtime.resolve(t))) !== undefined);
    if (out.length === 0 || startsSeed) out.push(t);
    else out[out.length - 1] += `,${piece}`;
  }
  return out.map((s) => s.trim()).filter((s) => s !== "");
}

/** A name as an error shows it: as it is, or quoted when a control character (a line break) is in it, so the error stays one line. */
function shown(name: string): string {
  // deno-lint-ignore no-control-regex -- control characters are what this looks for
  return /[\u0000-\u001f\u007f]/.test(name) ? JSON.stringify(name) : name;
}

function hasScheme(text: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(text);
}

function isText(path: string): boolean {
  const ext = extensionOf(path);
  return ext === "txt" || ext === "text";
}

function isDocumentOrDataset(path: string): boolean {
  const ext = extensionOf(path);
  return DATASET_EXTENSIONS.has(ext) || (ext !== "txt" && ext !== "text" && kindOfExtension(path) !== undefined);
}

/** Drops a `#` comment: a whole line, or one after whitespace (a URL's own `#fragment` has none before it). */
function stripComment(line: string): string {
  if (line.trimStart().startsWith("#")) return "";
  const at = line.search(/\s#/);
  return at < 0 ? line : line.slice(0, at);
}

function dedupe(seeds: Seed[]): Seed[] {
  const seen = new Set<string>();
  return seeds.filter((s) => {
    const key = s.kind === "http" ? s.url : `${s.kind}:${s.path}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
