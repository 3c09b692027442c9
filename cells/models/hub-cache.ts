/**
 * The model cache on disk, in huggingface_hub's layout so that a user knows it (and may point
 * CELLAR_MODEL_CACHE at `~/.cache/huggingface/hub` to share one):
 *
 *     models--org--name/blobs/<etag>                      each file's bytes, named by the hub's ETag
 *     models--org--name/blobs/<etag>.incomplete           a download under way (resumed from its length)
 *     models--org--name/snapshots/<commit>/<file>         a symbolic link to its blob
 *     models--org--name/refs/<revision>                   the commit a branch or tag resolved to
 *     models--org--name/.no_exist/<commit>/<file>         an optional file the hub does not have
 *
 * A snapshot counts as cached only when every file asked for is linked (or, for an optional one,
 * marked missing): a download that stopped halfway is never taken for a model.
 *
 * @example
 * ```ts
 * import { cachedSnapshot, modelCacheDir, repoDir } from "./hub-cache.ts";
 *
 * const repo = repoDir(modelCacheDir(), "BAAI/bge-small-en-v1.5");
 * const hit = await cachedSnapshot(repo, "main", ["config.json"], []); // { commit, dir } or undefined
 * ```
 */
import { CellarError, runtime } from "../../kernel/mod.ts";

/** A commit sha as the hub writes it: 40 hex digits. */
export const COMMIT = /^[0-9a-f]{40}$/;

/** CELLAR_MODEL_CACHE, else $XDG_CACHE_HOME/cellar/models, else ~/.cache/cellar/models. */
export function modelCacheDir(): string {
  const set = runtime.env("CELLAR_MODEL_CACHE");
  if (set) return runtime.resolve(set);
  const xdg = runtime.env("XDG_CACHE_HOME");
  if (xdg) return runtime.resolve(xdg, "cellar", "models");
  const home = runtime.env("HOME") ?? runtime.env("USERPROFILE");
  if (home) return runtime.resolve(home, ".cache", "cellar", "models");
  throw new CellarError("the model cache: neither CELLAR_MODEL_CACHE nor HOME is set; set CELLAR_MODEL_CACHE to a directory for downloaded models");
}

/** The cache directory of one hub repository. */
export function repoDir(cache: string, id: string): string {
  return runtime.resolve(cache, `models--${id.split("/").join("--")}`);
}

export function blobPath(repo: string, etag: string): string {
  return runtime.resolve(repo, "blobs", etag);
}

export function snapshotDir(repo: string, commit: string): string {
  return runtime.resolve(repo, "snapshots", commit);
}

/** The commit `revision` stands for here (itself when it is one), or undefined when no ref was written. */
export async function cachedCommit(repo: string, revision: string): Promise<string | undefined> {
  if (COMMIT.test(revision)) return revision;
  const ref = runtime.resolve(repo, "refs", revision);
  if (!(await runtime.stat(ref))?.kind) return undefined;
  const commit = (await runtime.readTextFile(ref)).trim();
  return COMMIT.test(commit) ? commit : undefined;
}

/** The snapshot of `revision` when every file in `files` is there and each optional one is there or known missing. */
export async function cachedSnapshot(repo: string, revision: string, files: string[], optional: string[]): Promise<{ commit: string; dir: string } | undefined> {
  const commit = await cachedCommit(repo, revision);
  if (!commit) return undefined;
  const dir = snapshotDir(repo, commit);
  for (const file of files) {
    if ((await runtime.stat(runtime.resolve(dir, file)))?.kind !== "file") return undefined;
  }
  for (const file of optional) {
    if ((await runtime.stat(runtime.resolve(dir, file)))?.kind === "file") continue;
    if (!(await runtime.exists(runtime.resolve(repo, ".no_exist", commit, file)))) return undefined;
  }
  return { commit, dir };
}

/** Links `snapshots/<commit>/<file>` to its blob, relatively (the cache may move), replacing a stale link. */
export async function linkSnapshotFile(repo: string, commit: string, file: string, etag: string): Promise<void> {
  const link = runtime.resolve(snapshotDir(repo, commit), file);
  await runtime.mkdir(runtime.dirname(link));
  const depth = file.split("/").length + 1; // up from the link's directory to the repo: <file's dirs>, <commit>, snapshots
  const target = [...Array(depth).fill(".."), "blobs", etag].join("/");
  await runtime.remove(link);
  await runtime.symlink(target, link);
}

/** Marks an optional file the hub does not have at `commit`, so the next load need not ask. */
export async function markMissing(repo: string, commit: string, file: string): Promise<void> {
  const marker = runtime.resolve(repo, ".no_exist", commit, file);
  await runtime.mkdir(runtime.dirname(marker));
  await runtime.writeTextFile(marker, "");
}

/** Records what a branch or tag resolved to; written last, once the snapshot is complete. */
export async function writeRef(repo: string, revision: string, commit: string): Promise<void> {
  if (revision === commit) return;
  const ref = runtime.resolve(repo, "refs", revision);
  await runtime.mkdir(runtime.dirname(ref));
  const temp = `${ref}.${runtime.sha256Hex(`${commit}${Math.random()}`).slice(0, 8)}.tmp`;
  await runtime.writeTextFile(temp, commit);
  await runtime.rename(temp, ref);
}
