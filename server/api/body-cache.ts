/**
 * Serialized response bodies, kept per key until something that can change them happens: a read route under
 * many clients polling one page answers from the exact bytes it sent last (with their ETag, so a client that
 * has them gets a 304) instead of reading the store and serializing again. `invalidate()` drops every entry;
 * a read that was going when it was called is not kept, so no body older than the last invalidation is ever
 * served. `maxAgeMs` bounds how long a body lives even without one, for the store's writes that emit no
 * event (the scheduler's queued runs): past it, the body is read again while still served, so it is at most
 * `maxAgeMs` and one read old. Bounded in entries and bytes; the least recently used goes first.
 *
 * @example
 * ```ts
 * import { BodyCache } from "./body-cache.ts";
 *
 * const cache = new BodyCache();
 * const a = await cache.get("runs?limit=50", async () => ({ runs: [] }));
 * const b = await cache.get("runs?limit=50", async () => ({ runs: ["never read"] }));
 * // b === a: the same bytes and ETag; after cache.invalidate() the next get reads again
 * ```
 */
import { createHash } from "node:crypto";

export interface CachedBody {
  /** The body as sent: JSON, UTF-8. */
  bytes: Uint8Array<ArrayBuffer>;
  /** A strong ETag of the bytes, quoted. */
  etag: string;
}

interface Entry {
  body: CachedBody;
  at: number;
}

export interface BodyCacheOptions {
  maxEntries?: number;
  maxBytes?: number;
  maxAgeMs?: number;
  now?: () => number;
}

export class BodyCache {
  readonly #entries = new Map<string, Entry>();
  /** Reads going per key, shared by the calls that came after they started (none older than its call). */
  readonly #going = new Map<string, { generation: number; read: Promise<CachedBody> }>();
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #maxAgeMs: number;
  readonly #now: () => number;
  #bytes = 0;
  #generation = 0;

  constructor(options: BodyCacheOptions = {}) {
    this.#maxEntries = options.maxEntries ?? 256;
    this.#maxBytes = options.maxBytes ?? 8 * 1024 * 1024;
    this.#maxAgeMs = options.maxAgeMs ?? 1000;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  invalidate(): void {
    this.#generation++;
    this.#entries.clear();
    this.#bytes = 0;
  }

  /** The body for `key`: the kept one if still valid, else `read()`'s value serialized (and kept). */
  get(key: string, read: () => Promise<unknown>): Promise<CachedBody> {
    const entry = this.#entries.get(key);
    if (entry) {
      // Most recently used goes last, so eviction takes the oldest first.
      this.#entries.delete(key);
      this.#entries.set(key, entry);
      // Past its age, it is read again while it is still served: else every client polling the page would
      // wait for that read once a `maxAgeMs`. Kept entries only ever outlive an event-less write, never an
      // invalidation, which drops them.
      if (this.#now() - entry.at > this.#maxAgeMs && !this.#going.has(key)) this.#read(key, read).catch(() => {});
      return Promise.resolve(entry.body);
    }
    const going = this.#going.get(key);
    // Joining a read started before an invalidation would hand out what the store was before the change.
    if (going && going.generation === this.#generation) return going.read;
    return this.#read(key, read);
  }

  #read(key: string, read: () => Promise<unknown>): Promise<CachedBody> {
    const generation = this.#generation;
    const at = this.#now();
    const pending = read().then((value) => {
      const bytes = new TextEncoder().encode(JSON.stringify(value));
      const body = { bytes, etag: `"${createHash("sha1").update(bytes).digest("base64url")}"` };
      if (generation === this.#generation) this.#keep(key, { body, at });
      return body;
    });
    this.#going.set(key, { generation, read: pending });
    const settle = () => void (this.#going.get(key)?.read === pending && this.#going.delete(key));
    pending.then(settle, settle);
    return pending;
  }

  #keep(key: string, entry: Entry): void {
    const size = entry.body.bytes.byteLength;
    if (size > this.#maxBytes) return;
    const old = this.#entries.get(key);
    if (old) this.#drop(key, old);
    this.#entries.set(key, entry);
    this.#bytes += size;
    for (const [oldest, e] of this.#entries) {
      if (this.#entries.size <= this.#maxEntries && this.#bytes <= this.#maxBytes) break;
      this.#drop(oldest, e);
    }
  }

  #drop(key: string, entry: Entry): void {
    this.#entries.delete(key);
    this.#bytes -= entry.body.bytes.byteLength;
  }
}

/** Whether `ifNoneMatch` (an If-None-Match header) names `etag`, weak or strong, or is `*`. */
export function matchesETag(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch.split(",").some((tag) => {
    const t = tag.trim();
    return t === "*" || t === etag || t === `W/${etag}`;
  });
}
