/**
 * Models by name from a Hugging Face hub: `org/name` or `org/name@revision` (a branch, tag or
 * commit; default `main`) is downloaded once into the model cache and handed on as a local
 * snapshot directory, the commit it resolved to with it, so that whatever the model builds can
 * say exactly which model made it.
 *
 * - The hub: `HF_ENDPOINT` (the variable huggingface_hub reads), default https://huggingface.co;
 *   a mirror speaking the same protocol works as well.
 * - The cache: `CELLAR_MODEL_CACHE`, default `$XDG_CACHE_HOME/cellar/models` or
 *   `~/.cache/cellar/models`, in huggingface_hub's layout (./hub-cache.ts).
 * - `HF_TOKEN`: sent as a bearer token to the hub (not to its CDN), for gated and private
 *   models; it appears in no log line and no error.
 * - Offline: a revision whose ref and snapshot are complete in the cache loads with no network
 *   call at all (a newer `main` on the hub is not looked for: pin a revision, or delete the
 *   ref, to move on). One that is not fails with a line naming the model and the host.
 * - Files are verified before they enter the cache (./hub-file.ts); an interrupted download
 *   resumes from its `.incomplete` part.
 *
 * @example
 * ```ts
 * import { fetchHubModel, parseHubId } from "./hub.ts";
 *
 * parseHubId("BAAI/bge-small-en-v1.5@v1.0"); // { id: "BAAI/bge-small-en-v1.5", revision: "v1.0" }
 * parseHubId("./models/bge");               // undefined: a local path
 * const model = await fetchHubModel("BAAI/bge-small-en-v1.5", {
 *   files: ["config.json", "tokenizer.json", "tokenizer_config.json", "onnx/model.onnx"],
 *   log: (line) => console.log(line),
 * });
 * model.dir;      // …/models--BAAI--bge-small-en-v1.5/snapshots/<commit>
 * model.revision; // the 40-hex commit
 * ```
 */
import { CellarError, runtime } from "../../kernel/mod.ts";
import { downloadProgress } from "./download-progress.ts";
import { cachedSnapshot, COMMIT, linkSnapshotFile, markMissing, modelCacheDir, repoDir, snapshotDir, writeRef } from "./hub-cache.ts";
import { downloadHubFile, type HubAccess } from "./hub-file.ts";

export { modelCacheDir } from "./hub-cache.ts";

export const DEFAULT_ENDPOINT = "https://huggingface.co";

export interface HubRef {
  /** "org/name". */
  id: string;
  /** A branch, tag or commit; "main" when none was given. */
  revision: string;
}

export interface HubModel {
  /** The snapshot directory: every file asked for, as a local model directory. */
  dir: string;
  id: string;
  /** The commit the revision resolved to (40 hex digits). */
  revision: string;
}

export interface FetchHubOptions {
  /** Paths within the repository that must exist ("onnx/model.onnx"). */
  files: string[];
  /** Paths taken when the hub has them (a 404 is remembered as missing, not an error). */
  optionalFiles?: string[];
  /** Progress and notices; without it, a bar on a terminal or lines on stderr. */
  log?: (line: string) => void;
  signal?: AbortSignal;
  /** Longest wait for an answer (default 30 s) and for the next bytes of a body (default 60 s). */
  connectMs?: number;
  stallMs?: number;
}

const PART = /^[A-Za-z0-9][\w.-]*$/;
const REVISION = /^[\w.-]+(\/[\w.-]+)*$/;

/** A hub id ("org/name", "org/name@revision"), or undefined for anything else (a local path: "./x", "/x", "a/b/c"). */
export function parseHubId(ref: string): HubRef | undefined {
  const at = ref.indexOf("@");
  const name = at < 0 ? ref : ref.slice(0, at);
  const revision = at < 0 ? "main" : ref.slice(at + 1);
  const parts = name.split("/");
  if (parts.length !== 2 || !parts.every((p) => PART.test(p) && !p.includes(".."))) return undefined;
  if (!REVISION.test(revision) || revision.split("/").some((p) => p === "." || p === "..")) return undefined;
  return { id: name, revision };
}

/** HF_ENDPOINT without its trailing slash, else the public hub. */
export function hubEndpoint(): string {
  const endpoint = (runtime.env("HF_ENDPOINT") || DEFAULT_ENDPOINT).replace(/\/+$/, "");
  try {
    if (!/^https?:$/.test(new URL(endpoint).protocol)) throw new Error("not http");
  } catch {
    throw new CellarError(`HF_ENDPOINT ${JSON.stringify(endpoint)}: expected an http(s) URL such as ${DEFAULT_ENDPOINT}`);
  }
  return endpoint;
}

/** The model's snapshot directory with `files` in it: from the cache when complete there, else downloaded first. */
export async function fetchHubModel(ref: string, options: FetchHubOptions): Promise<HubModel> {
  const parsed = parseHubId(ref);
  if (!parsed) throw new CellarError(`model ${JSON.stringify(ref)}: expected a hub id "org/name" or "org/name@revision"`);
  const { id, revision } = parsed;
  const optional = options.optionalFiles ?? [];
  const repo = repoDir(modelCacheDir(), id);
  const hit = await cachedSnapshot(repo, revision, options.files, optional);
  if (hit) return { dir: hit.dir, id, revision: hit.commit };

  const hub: HubAccess = {
    endpoint: hubEndpoint(),
    id,
    token: runtime.env("HF_TOKEN") || undefined,
    signal: options.signal,
    connectMs: options.connectMs ?? 30_000,
    stallMs: options.stallMs ?? 60_000,
  };
  const commit = await downloadAll(hub, repo, revision, options.files, optional, downloadProgress(ref, options.log));
  await writeRef(repo, revision, commit);
  options.log?.(`model ${id}@${revision}: commit ${commit.slice(0, 12)}, cached in ${snapshotDir(repo, commit)}`);
  return { dir: snapshotDir(repo, commit), id, revision: commit };
}

/**
 * Every file into the blobs, at one commit: the first answer names it and the rest are asked for
 * at it (a branch that moves meanwhile cannot mix two commits); then the snapshot is linked.
 */
async function downloadAll(hub: HubAccess, repo: string, revision: string, files: string[], optional: string[], progress: ReturnType<typeof downloadProgress>): Promise<string> {
  let commit = COMMIT.test(revision) ? revision : undefined;
  const linked: Array<[string, string]> = [];
  const missing: string[] = [];
  const wanted: Array<[string, boolean]> = [...files.map((f): [string, boolean] => [f, false]), ...optional.map((f): [string, boolean] => [f, true])];
  for (const [file, isOptional] of wanted) {
    hub.signal?.throwIfAborted();
    const got = await downloadHubFile(hub, repo, commit ?? revision, file, progress, isOptional);
    if (got === "missing") {
      missing.push(file);
      continue;
    }
    commit ??= got.commit && COMMIT.test(got.commit) ? got.commit : undefined;
    if (!commit) {
      throw new CellarError(`model ${hub.id}: ${new URL(hub.endpoint).host} named no commit (X-Repo-Commit) for ${file}; is HF_ENDPOINT a Hugging Face hub?`);
    }
    linked.push([file, got.etag]);
  }
  if (!commit) throw new CellarError(`model ${hub.id}@${revision}: the hub has none of ${optional.join(", ")}`);
  for (const [file, etag] of linked) await linkSnapshotFile(repo, commit, file, etag);
  for (const file of missing) await markMissing(repo, commit, file);
  return commit;
}
