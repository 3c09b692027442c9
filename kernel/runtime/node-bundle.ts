/**
 * A TypeScript module and what it imports as one ES module file, for a Node worker thread to load: a
 * worker that registers tsx first takes 1–1.7 s to start (tsx, then each file transformed as it is
 * imported), a bundled one 0.3–0.6 s. esbuild builds it (in its own process, off this thread); the file
 * is named by the hash of its content in a cache folder under the temp dir, written once (by rename, so
 * a concurrent process never loads half of one). A manifest beside it lists the files it was built from
 * with their sizes and modification times: while they are unchanged, later processes load it without
 * running esbuild at all. Each module is looked up once per process.
 *
 * @example
 * ```ts
 * import { bundledModule } from "./node-bundle.ts";
 *
 * const path = await bundledModule(new URL("../../cells/crawl/extract-worker.ts", import.meta.url).href);
 * // → /tmp/cellar-workers/<sha256>.mjs
 * ```
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const CACHE = join(tmpdir(), "cellar-workers");

/**
 * CommonJS packages inside an ES module bundle still call `require` for Node's built-ins (iconv-lite
 * requires buffer); this gives the bundle one.
 */
const BANNER = 'import { createRequire as __cellarRequire } from "node:module"; const require = __cellarRequire(import.meta.url);';

const built = new Map<string, Promise<string>>();

/** What a bundle was built from, with each input's size and modification time: it is reused while they hold. */
interface Manifest {
  bundle: string;
  inputs: Array<[path: string, size: number, mtimeMs: number]>;
}

/** The path of the bundle of the module at `url` (a file: URL), built on first use in this process. */
export function bundledModule(url: string): Promise<string> {
  let path = built.get(url);
  if (path === undefined) {
    path = cached(url).then((hit) => hit ?? build(url));
    built.set(url, path);
    // A failed build is tried again next time rather than remembered.
    path.catch(() => built.delete(url));
  }
  return path;
}

function manifestPath(url: string): string {
  return join(CACHE, `${createHash("sha256").update(url).digest("hex").slice(0, 32)}.json`);
}

/** The bundle a previous process built, when none of its inputs has changed since (no esbuild run then). */
async function cached(url: string): Promise<string | undefined> {
  try {
    const manifest = JSON.parse(await readFile(manifestPath(url), "utf8")) as Manifest;
    const same = await Promise.all(manifest.inputs.map(async ([path, size, mtimeMs]) => {
      const s = await stat(path);
      return s.size === size && s.mtimeMs === mtimeMs;
    }));
    return same.every(Boolean) && existsSync(manifest.bundle) ? manifest.bundle : undefined;
  } catch {
    return undefined;
  }
}

async function build(url: string): Promise<string> {
  const esbuild = await import("esbuild");
  const result = await esbuild.build({
    entryPoints: [fileURLToPath(url)],
    bundle: true,
    write: false,
    metafile: true,
    absWorkingDir: "/",
    format: "esm",
    platform: "node",
    target: "node20",
    // Less to parse when the worker starts; names are kept for stack traces.
    minifyWhitespace: true,
    minifySyntax: true,
    banner: { js: BANNER },
    logLevel: "silent",
  });
  const code = result.outputFiles[0].contents;
  const hash = createHash("sha256").update(code).digest("hex").slice(0, 32);
  const path = join(CACHE, `${hash}.mjs`);
  await mkdir(CACHE, { recursive: true });
  if (!existsSync(path)) await writeAtomically(path, code);
  const inputs = await Promise.all(Object.keys(result.metafile.inputs).map(async (input) => {
    const absolute = join("/", input);
    const s = await stat(absolute);
    return [absolute, s.size, s.mtimeMs] as [string, number, number];
  }));
  await writeAtomically(manifestPath(url), JSON.stringify({ bundle: path, inputs } satisfies Manifest));
  return path;
}

/** Written beside and renamed into place: a concurrent process reads the old file or the new, never half of one. */
async function writeAtomically(path: string, data: Uint8Array | string): Promise<void> {
  const temp = `${path}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(temp, data);
  await rename(temp, path);
}
