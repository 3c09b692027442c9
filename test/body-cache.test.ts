// server/api/body-cache.ts on its own: what it keeps, for how long, and within which bounds.
import { describe, expect, it } from "vitest";
import { BodyCache, matchesETag } from "../server/api/body-cache.ts";

describe("BodyCache", () => {
  it("keeps a body until invalidated, and does not keep a read that was going across an invalidation", async () => {
    const cache = new BodyCache();
    let reads = 0;
    const read = () => Promise.resolve({ n: ++reads });
    const a = await cache.get("k", read);
    expect(await cache.get("k", read)).toBe(a);
    let release!: () => void;
    const slow = cache.get("k2", () => new Promise((r) => (release = () => r({ old: true }))));
    cache.invalidate();
    release();
    expect(new TextDecoder().decode((await slow).bytes)).toBe('{"old":true}');
    expect(new TextDecoder().decode((await cache.get("k2", () => Promise.resolve({ old: false }))).bytes)).toBe('{"old":false}');
    expect(new TextDecoder().decode((await cache.get("k", read)).bytes)).toBe('{"n":2}');
  });

  it("reads a body past its age again while serving it, and stays within its entries and bytes", async () => {
    let now = 0;
    const cache = new BodyCache({ maxAgeMs: 1000, maxEntries: 2, maxBytes: 30, now: () => now });
    const first = await cache.get("k", () => Promise.resolve({ v: 1 }));
    now = 1001;
    expect(await cache.get("k", () => Promise.resolve({ v: 2 }))).toBe(first);
    await new Promise((r) => setTimeout(r, 0));
    expect(new TextDecoder().decode((await cache.get("k", () => Promise.resolve({ v: 3 }))).bytes)).toBe('{"v":2}');
    for (const key of ["a", "b", "c"]) await cache.get(key, () => Promise.resolve({ key }));
    expect(cache.size).toBe(2);
    await cache.get("big", () => Promise.resolve({ text: "x".repeat(40) }));
    expect(cache.size).toBe(2);
    expect(matchesETag(`W/${first.etag}, "other"`, first.etag)).toBe(true);
    expect(matchesETag('"other"', first.etag)).toBe(false);
  });
});
