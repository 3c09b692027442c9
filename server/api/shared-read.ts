/**
 * Identical reads, shared: a call for a key joins the next read of it that starts after the call, never one
 * already going, so every caller sees the store as it was when it asked, or later (a client that triggered a
 * run and then lists runs sees it). Under many clients polling the same page (the API benchmark's 200), the
 * store answers one read per round instead of one per request.
 *
 * @example
 * ```ts
 * import { sharedReads } from "./shared-read.ts";
 *
 * const read = sharedReads<number>();
 * const [a, b] = await Promise.all([read("runs", async () => 1), read("runs", async () => 2)]);
 * // a → 1; b → 2: the second call came while the first read was going, so it waited for a read of its own
 * ```
 */
interface Going<T> {
  running: Promise<T>;
  /** The read that starts when `running` ends, shared by every call that came while it went on. */
  next?: Promise<T>;
}

export function sharedReads<T>(): (key: string, read: () => Promise<T>) => Promise<T> {
  const going = new Map<string, Going<T>>();
  const start = (key: string, read: () => Promise<T>): Promise<T> => {
    const entry: Going<T> = { running: read() };
    going.set(key, entry);
    // The next read, if calls came, takes the key over; otherwise the key is free again.
    const settle = () => void (entry.next === undefined && going.get(key) === entry && going.delete(key));
    entry.running.then(settle, settle);
    return entry.running;
  };
  return (key, read) => {
    const entry = going.get(key);
    if (!entry) return start(key, read);
    entry.next ??= entry.running.then(() => {}, () => {}).then(() => start(key, read));
    return entry.next;
  };
}
