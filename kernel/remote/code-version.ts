/**
 * The code version of a task module (`task(import.meta.url, "fn")`): what a remote kernel advertises when it
 * joins, what a chunk carries in its key, and what a worker compares before it runs a chunk, so that a chunk
 * is only ever run by the code it was made for.
 *
 * The version is the SHA-256 of the module's source file *and* of the project files it imports,
 * transitively (relative imports; the same closure kernel/fingerprint.ts hashes for a cell's cache key).
 * Why the imports too: a task module is usually a thin export over helpers (cells/dedup.ts's minhashChunk
 * calls the MinHash code it imports), and a worker whose helper differs would return different answers
 * under the same version — a silent wrong result, where a refused chunk is a visible one. It is cheap: each
 * file is read and parsed once per process (oxc-parser, a few milliseconds per file) and the answer kept.
 * npm packages are not hashed: package-lock.json pins them, and both ends install from it.
 *
 * The version does not depend on where the checkout lies: the hash is of file texts, not of paths, so a
 * worker on another machine (another directory) computes the server's version for the same commit.
 *
 * @example
 * ```ts
 * import { codeVersion, codeVersions } from "./code-version.ts";
 *
 * const dedup = new URL("../../cells/dedup.ts", import.meta.url).href;
 * await codeVersion(dedup); // → "9c1e…" (64 hex digits)
 * await codeVersions([dedup]); // → { "file:///…/cells/dedup.ts": "9c1e…" }
 * ```
 */
import { CellarError } from "../errors.ts";
import { moduleCodeVersion } from "../fingerprint.ts";
import { runtime } from "../runtime/mod.ts";

/** The code version of the task module at `moduleUrl` (a `file:` URL, as `import.meta.url` gives, or a path). */
export async function codeVersion(moduleUrl: string): Promise<string> {
  const path = moduleUrl.startsWith("file:") ? runtime.fromFileUrl(moduleUrl) : runtime.resolve(moduleUrl);
  if ((await runtime.stat(path))?.kind !== "file") {
    throw new CellarError(`task module ${moduleUrl}: no such file; expected the import.meta.url of a module on this machine`);
  }
  return await moduleCodeVersion(path);
}

/** Each module's code version, keyed by the URL given: what `joinServer` sends as the modules a worker can run. */
export async function codeVersions(moduleUrls: string[]): Promise<Record<string, string>> {
  const versions = await Promise.all(moduleUrls.map(async (url) => [url, await codeVersion(url)] as const));
  return Object.fromEntries(versions);
}
