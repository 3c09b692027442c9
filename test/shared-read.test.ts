// The API's shared reads: identical calls share one read, never one that began before them.
import { describe, expect, it } from "vitest";
import { sharedReads } from "../server/api/shared-read.ts";

describe("sharedReads", () => {
  it("lets the calls that came during a read share the next one, which starts after it ends", async () => {
    const read = sharedReads<number>();
    let reads = 0;
    const log: string[] = [];
    const slow = () => {
      const n = ++reads;
      log.push(`start ${n}`);
      return new Promise<number>((resolve) => setTimeout(() => (log.push(`end ${n}`), resolve(n)), 20));
    };
    const first = read("runs", slow);
    const [second, third] = [read("runs", slow), read("runs", slow)];
    const other = read("other key", slow);
    expect(await Promise.all([first, second, third, other])).toEqual([1, 3, 3, 2]);
    // The shared read began only when the one going at the calls ended: none of them saw an older store.
    expect(log.indexOf("start 3")).toBeGreaterThan(log.indexOf("end 1"));
    // Nothing going: the next call reads at once, and a failed read fails only the calls that shared it.
    expect(await read("runs", slow)).toBe(4);
    const failing = read("runs", () => Promise.reject(new Error("store closed")));
    const after = read("runs", slow);
    await expect(failing).rejects.toThrow("store closed");
    expect(await after).toBe(5);
  });
});
