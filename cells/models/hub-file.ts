/**
 * One file of a hub model, fetched the way huggingface_hub fetches it: `GET
 * {endpoint}/{id}/resolve/{revision}/{file}` answers a small file itself (its ETag the git blob's
 * sha1) and redirects a large (LFS) one to a CDN with `X-Linked-Etag` (its sha256) and
 * `X-Linked-Size`; every answer names the commit in `X-Repo-Commit`. The bytes go to
 * `blobs/<etag>.incomplete`, are checked (size, then sha256 or the git blob sha1), and only then
 * renamed to `blobs/<etag>`. A broken-off body is resumed with `Range` from what is on disk, in this
 * call (a few attempts) and in the next one. One download of a blob at a time: `blobs/<etag>.lock`, created
 * exclusively, names the process that writes the `.incomplete` (two appending to it made a corrupt file). Another
 * waits while that process lives and its part grows, then finds the blob done (or resumes the part); one whose
 * part stops growing is refused in one line; a lock whose process is gone (killed) is taken over.
 *
 * HF_TOKEN goes as `Authorization: Bearer` to the hub only, never to a CDN on another host, and
 * never into a message. Every request is bounded: no answer within `connectMs`, or no bytes for
 * `stallMs`, ends it.
 *
 * @example
 * ```ts
 * import { downloadHubFile } from "./hub-file.ts";
 * import { downloadProgress } from "./download-progress.ts";
 *
 * const hub = { endpoint: "https://huggingface.co", id: "BAAI/bge-small-en-v1.5", connectMs: 30_000, stallMs: 60_000 };
 * const got = await downloadHubFile(hub, "/cache/models--BAAI--bge-small-en-v1.5", "main", "config.json", downloadProgress(hub.id));
 * got === "missing" || got.commit; // the 40-hex commit "main" resolved to
 * ```
 */
import { CellarError, errorLine, type HttpResponse, isCellarError, runtime } from "../../kernel/mod.ts";
import { blobPath } from "./hub-cache.ts";
import type { DownloadProgress } from "./download-progress.ts";

export interface HubAccess {
  /** The hub's base URL, no trailing slash. */
  endpoint: string;
  id: string;
  token?: string;
  signal?: AbortSignal;
  connectMs: number;
  stallMs: number;
}

/** What the hub says of a file before its bytes. */
interface FileMeta {
  commit: string | undefined;
  etag: string;
  size: number;
  /** Where the bytes are: the resolve URL itself, or the CDN it redirected to. */
  url: string;
}

/** Attempts at one file's body (each resuming where the last stopped) before giving up. */
const ATTEMPTS = 5;
/** Same-host redirects followed (a renamed repository answers with one). */
const HOPS = 5;

/** Downloads (or finds in the blobs) one file; "missing" when `optional` and the hub has no such file. */
export async function downloadHubFile(
  hub: HubAccess,
  repo: string,
  revision: string,
  file: string,
  progress: DownloadProgress,
  optional = false,
): Promise<{ commit: string | undefined; etag: string } | "missing"> {
  const first = await resolveFile(hub, revision, file, optional);
  if (first === "missing") return first;
  const { meta, response } = first;
  const blob = blobPath(repo, meta.etag);
  if ((await runtime.stat(blob))?.size === meta.size) {
    await response?.cancel();
    return { commit: meta.commit, etag: meta.etag };
  }
  await runtime.mkdir(runtime.dirname(blob));
  const lock = await lockBlob(hub, file, blob, progress);
  try {
    if (lock.waited) await response?.cancel();
    // The process waited for may have finished the blob.
    if (!lock.waited || (await runtime.stat(blob))?.size !== meta.size) await fetchBlob(hub, file, meta, lock.waited ? undefined : response, blob, progress);
  } finally {
    await lock.release();
  }
  return { commit: meta.commit, etag: meta.etag };
}

/** How often a process waiting for another's download of a blob looks again. */
const LOCK_POLL_MS = 100;

/**
 * Takes `<blob>.lock` (its text: this process's id and host), waiting while another live process holds it
 * and its `.incomplete` grows; refused once that part has not grown for stallMs + connectMs (what bounds a
 * download of one's own). A holder on this host that is no longer alive left it by dying: its lock is removed
 * and taken (one on another host, a cache on a shared disk, cannot be asked, and is waited for). Two
 * waiters seeing the same dead holder at one instant could both take over; the checksum still refuses what
 * that would write.
 */
async function lockBlob(hub: HubAccess, file: string, blob: string, progress: DownloadProgress): Promise<{ waited: boolean; release(): Promise<void> }> {
  const lock = `${blob}.lock`;
  const part = `${blob}.incomplete`;
  const boundMs = hub.stallMs + hub.connectMs;
  let waited = false;
  let seen = { size: -1, at: Date.now() };
  while (!(await runtime.createExclusive(lock, `${runtime.pid()} ${runtime.hostname()}\n`))) {
    hub.signal?.throwIfAborted();
    const text = await runtime.readTextFile(lock).catch(() => undefined);
    if (text === undefined) continue; // released meanwhile
    const [pid, hostname] = text.trim().split(" ");
    const holder = Number(pid);
    const here = hostname === undefined || hostname === runtime.hostname();
    // An empty lock is one being written: its process is alive.
    if (here && Number.isSafeInteger(holder) && holder > 0 && !runtime.processAlive(holder)) {
      await runtime.remove(lock);
      continue;
    }
    const size = (await runtime.stat(part))?.size ?? 0;
    if (size !== seen.size) seen = { size, at: Date.now() };
    const who = `process ${holder || "?"}${here ? "" : ` on ${hostname}`}`;
    if (!waited) progress.say(`model ${hub.id}: ${file} is being downloaded by ${who}; waiting for it (${lock})`);
    waited = true;
    if (Date.now() - seen.at > boundMs) {
      throw new CellarError(
        `model ${hub.id}: ${file} is being downloaded by ${who}, which has written nothing for ${boundMs / 1000} s; ` +
          `stop that process, or delete ${lock} if none downloads it`,
        { retryable: true },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
  }
  return { waited, release: () => runtime.remove(lock) };
}

/** The file's metadata, and its answer when that already carries the bytes (a small file). */
async function resolveFile(
  hub: HubAccess,
  revision: string,
  file: string,
  optional: boolean,
): Promise<{ meta: FileMeta; response?: HttpResponse } | "missing"> {
  let url = `${hub.endpoint}/${hub.id}/resolve/${encodeURIComponent(revision)}/${file.split("/").map(encodeURIComponent).join("/")}`;
  for (let hop = 0; hop <= HOPS; hop++) {
    const response = await request(hub, url, {}, `${file} (revision ${revision})`);
    const status = response.status;
    if (status === 404 && optional) {
      await response.cancel();
      return "missing";
    }
    if (status >= 400) throw await statusError(hub, response, revision, file);
    const etag = normalizeEtag(response.header("x-linked-etag") ?? response.header("etag"));
    const size = Number(response.header("x-linked-size") ?? response.header("content-length") ?? NaN);
    const commit = response.header("x-repo-commit") ?? undefined;
    const location = response.header("location");
    if (status >= 300 && status < 400 && location) {
      await response.cancel();
      const next = new URL(location, url).href;
      // No ETag: a redirect within the hub (a renamed repository), not to the bytes.
      if (!etag) {
        url = next;
        continue;
      }
      return { meta: { commit, etag, size: checkedSize(hub, file, size), url: next } };
    }
    if (status !== 200 || !etag) {
      await response.cancel();
      throw new CellarError(`model ${hub.id}: ${host(hub.endpoint)} answered ${status} for ${file} without an ETag; is HF_ENDPOINT a Hugging Face hub?`);
    }
    return { meta: { commit, etag, size: checkedSize(hub, file, size), url }, response };
  }
  throw new CellarError(`model ${hub.id}: ${host(hub.endpoint)} redirected ${file} more than ${HOPS} times`);
}

/** Streams the bytes into `<blob>.incomplete`, resuming from its length; moves it to `blob` once checked. */
async function fetchBlob(hub: HubAccess, file: string, meta: FileMeta, first: HttpResponse | undefined, blob: string, progress: DownloadProgress): Promise<void> {
  const part = `${blob}.incomplete`;
  let from = (await runtime.stat(part))?.size ?? 0;
  if (from > meta.size) {
    await runtime.remove(part);
    from = 0;
  }
  let check = await checker(meta, from > 0 ? part : undefined);
  let response = from === 0 ? first : (await first?.cancel(), undefined);
  const shown = progress.start(file, meta.size, from);
  try {
    for (let attempt = 1; from < meta.size || response; attempt++) {
      try {
        response ??= await request(hub, meta.url, from > 0 ? { range: `bytes=${from}-` } : {}, file);
        if (from > 0 && response.status === 200) {
          // The server ignored the range: start over from its first byte.
          await runtime.remove(part);
          check = await checker(meta, undefined);
          shown.advance(-from);
          from = 0;
        } else if (response.status !== 200 && response.status !== 206) {
          throw await statusError(hub, response, "", file);
        }
        // Counted as written, so that a body broken off midway resumes after its last byte on disk.
        await appendBody(hub, response, part, (bytes) => {
          check.update(bytes);
          from += bytes.length;
          shown.advance(bytes.length);
        });
      } catch (err) {
        if (isCellarError(err) || hub.signal?.aborted || attempt >= ATTEMPTS) throw brokenOff(hub, file, from, meta.size, err);
      } finally {
        response = undefined;
      }
    }
  } catch (err) {
    shown.stop();
    throw err;
  }
  await verify(hub, file, meta, part, from, check);
  await runtime.rename(part, blob);
  shown.done();
}

/** Appends a body to `part` as it comes, each part to `written` once on disk. A stall ends it. */
async function appendBody(hub: HubAccess, response: HttpResponse, part: string, written: (bytes: Uint8Array) => void): Promise<void> {
  const out = await runtime.appendFile(part);
  const dog = watchdog(hub.stallMs, () => void response.cancel());
  try {
    for await (const bytes of response.body) {
      dog.kick();
      await out.write(bytes);
      written(bytes);
    }
    if (dog.fired) throw new Error(`no bytes for ${hub.stallMs / 1000} s`);
  } catch (err) {
    throw dog.fired ? new Error(`no bytes for ${hub.stallMs / 1000} s`) : err;
  } finally {
    dog.stop();
    await out.close();
  }
}

/** A GET that must answer within connectMs; the token only to the hub's own host. */
async function request(hub: HubAccess, url: string, extra: Record<string, string>, what: string): Promise<HttpResponse> {
  const headers: Record<string, string> = { "accept-encoding": "identity", "user-agent": "cellar/0.1 (hub-compatible)", ...extra };
  if (hub.token && new URL(url).origin === new URL(hub.endpoint).origin) headers.authorization = `Bearer ${hub.token}`;
  const controller = new AbortController();
  const onAbort = () => controller.abort(hub.signal?.reason);
  hub.signal?.addEventListener("abort", onAbort, { once: true });
  const dog = watchdog(hub.connectMs, () => controller.abort());
  try {
    return await runtime.httpGet(url, { headers, signal: controller.signal });
  } catch (err) {
    hub.signal?.throwIfAborted();
    const why = dog.fired ? `no answer within ${hub.connectMs / 1000} s` : errorLine(err);
    throw unreachable(hub, what, why);
  } finally {
    dog.stop();
  }
}

interface Checker {
  update(bytes: Uint8Array): void;
  /** The digest's name and hex, or undefined when the ETag is no digest (only the size is checked). */
  digest(): { name: string; hex: string } | undefined;
}

/** sha256 for an LFS file (its ETag is one), the git blob sha1 for a small one, fed what is already on disk. */
async function checker(meta: FileMeta, existing: string | undefined): Promise<Checker> {
  const algorithm = /^[0-9a-f]{64}$/.test(meta.etag) ? "sha256" : /^[0-9a-f]{40}$/.test(meta.etag) ? "sha1" : undefined;
  if (!algorithm) return { update: () => {}, digest: () => undefined };
  const hash = runtime.hasher(algorithm);
  if (algorithm === "sha1") hash.update(new TextEncoder().encode(`blob ${meta.size}\0`));
  if (existing) for await (const bytes of runtime.readChunks(existing, 1 << 20)) hash.update(bytes);
  return { update: (bytes) => hash.update(bytes), digest: () => ({ name: algorithm === "sha1" ? "git sha1" : "sha256", hex: hash.hex() }) };
}

/** Refuses (and deletes) a download of the wrong size or digest: it is never moved into the cache. */
async function verify(hub: HubAccess, file: string, meta: FileMeta, part: string, got: number, check: Checker): Promise<void> {
  const digest = check.digest();
  const wrong = got !== meta.size ? `${got} bytes, expected ${meta.size}`
    : digest && digest.hex !== meta.etag ? `${digest.name} ${digest.hex.slice(0, 12)}…, expected ${meta.etag.slice(0, 12)}…`
    : undefined;
  if (!wrong) return;
  await runtime.remove(part);
  throw new CellarError(
    `model ${hub.id}: ${file} from ${host(meta.url)} is corrupt (${wrong}); it was deleted, not cached. Run again to download it anew`,
  );
}

async function statusError(hub: HubAccess, response: HttpResponse, revision: string, file: string): Promise<CellarError> {
  const code = response.header("x-error-code") ?? "";
  const status = response.status;
  await response.cancel();
  const where = host(hub.endpoint);
  const at = revision ? ` at revision "${revision}"` : "";
  if (code === "GatedRepo" || ((status === 401 || status === 403) && code !== "RepoNotFound")) {
    const fix = hub.token
      ? "HF_TOKEN is set but does not give access to it: accept the model's terms on the hub, or use a token that may read it"
      : "set HF_TOKEN to an access token that may read it";
    return new CellarError(`model ${hub.id}: ${where} refuses it (${status}): it is gated or private; ${fix}`);
  }
  if (status === 404 || status === 401 || code === "RepoNotFound") {
    const what = code === "EntryNotFound" ? `no file ${file} in model ${hub.id}${at}`
      : code === "RevisionNotFound" ? `no revision "${revision}" of model ${hub.id}`
      : code === "RepoNotFound" ? `no model ${hub.id}`
      : `no model ${hub.id}${at}, or no file ${file} in it`;
    const hint = hub.token ? "" : "; if it is private, set HF_TOKEN";
    return new CellarError(`model ${hub.id}: ${where} has ${what} (${status})${hint}`);
  }
  return new CellarError(`model ${hub.id}: ${where} answered ${status} ${response.statusText} for ${file}`, { retryable: status >= 500 || status === 429 });
}

function unreachable(hub: HubAccess, what: string, why: string): CellarError {
  return new CellarError(
    `model ${hub.id}: not in the model cache, and ${host(hub.endpoint)} cannot be reached for ${what} (${why}); ` +
      `set HF_ENDPOINT to a hub or mirror that can be, or give a local model directory`,
    { retryable: true },
  );
}

function brokenOff(hub: HubAccess, file: string, got: number, size: number, err: unknown): unknown {
  if (isCellarError(err) || hub.signal?.aborted) return err;
  return new CellarError(
    `model ${hub.id}: the download of ${file} broke off at ${got} of ${size} bytes after ${ATTEMPTS} attempts (${errorLine(err)}); run again to resume it`,
    { retryable: true },
  );
}

function checkedSize(hub: HubAccess, file: string, size: number): number {
  if (!Number.isSafeInteger(size) || size < 0) throw new CellarError(`model ${hub.id}: ${host(hub.endpoint)} gave no size for ${file}; is HF_ENDPOINT a Hugging Face hub?`);
  return size;
}

/** The hub's ETag without its weak marker and quotes, as huggingface_hub normalizes it. */
function normalizeEtag(etag: string | null): string {
  return (etag ?? "").replace(/^W\//, "").replace(/^"|"$/g, "");
}

function host(url: string): string {
  return new URL(url).host;
}

/** Calls `onFire` after `ms` without a kick. */
function watchdog(ms: number, onFire: () => void): { kick(): void; stop(): void; readonly fired: boolean } {
  let fired = false;
  let timer: ReturnType<typeof setTimeout>;
  const arm = () => (timer = setTimeout(() => ((fired = true), onFire()), ms));
  arm();
  return {
    kick: () => (clearTimeout(timer), arm()),
    stop: () => clearTimeout(timer),
    get fired() {
      return fired;
    },
  };
}
