// kernel/async.ts: the one delay, backoff, retry loop and semaphore the kernel and the cells share.
import { describe, expect, it } from "vitest";
import { backoffMs, delay, retry, Semaphore, sleep } from "../kernel/async.ts";
import { CpuPool } from "../kernel/compute/cpu-pool.ts";
import { task } from "../kernel/mod.ts";

describe("delay and sleep", () => {
  it("wait, and end with the signal's reason (delay) or false (sleep) when it aborts", async () => {
    const t0 = performance.now();
    await delay(30);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(28);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("stop")), 20);
    await expect(delay(10_000, controller.signal)).rejects.toThrow("stop");
    expect(await sleep(10_000, AbortSignal.abort())).toBe(false);
    expect(await sleep(5, new AbortController().signal)).toBe(true);
  });
});

describe("backoffMs", () => {
  it("doubles from the base, stops at the cap, and jitters between half and all of it", () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffMs(n, { baseMs: 100, maxMs: 1000, jitter: false }))).toEqual([100, 200, 400, 800, 1000]);
    for (let i = 0; i < 200; i++) {
      const wait = backoffMs(3, { baseMs: 100, maxMs: 1000 });
      expect(wait).toBeGreaterThanOrEqual(200);
      expect(wait).toBeLessThan(400);
    }
  });
});

describe("retry", () => {
  it("tries again while the failure is retryable, throws the last one after all tries, and at once when it is not", async () => {
    const waits: number[] = [];
    let calls = 0;
    const flaky = () => ++calls < 3 ? Promise.reject(new Error(`try ${calls}`)) : Promise.resolve("ok");
    expect(await retry(flaky, { tries: 5, retryable: () => true, delayMs: (n) => (waits.push(n), 1) })).toBe("ok");
    expect([calls, waits]).toEqual([3, [1, 2]]);

    calls = 0;
    await expect(retry(() => Promise.reject(new Error(`try ${++calls}`)), { tries: 3, retryable: () => true, delayMs: () => 1 }))
      .rejects.toThrow("try 3");
    calls = 0;
    await expect(retry(() => Promise.reject(new Error(`try ${++calls}`)), { tries: 3, retryable: () => false, delayMs: () => 1 }))
      .rejects.toThrow("try 1");
  });

  it("stops waiting between tries when the signal aborts", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("cancelled")), 20);
    await expect(retry(() => Promise.reject(new Error("down")), {
      tries: 3, retryable: () => true, delayMs: () => 60_000, signal: controller.signal,
    })).rejects.toThrow("cancelled");
  });
});

describe("Semaphore", () => {
  it("holds at most its size, serves waiters in order, and lets an aborted waiter leave the line", async () => {
    const slots = new Semaphore(2);
    let active = 0;
    let peak = 0;
    const order: number[] = [];
    const job = (i: number) => slots.use(async () => {
      peak = Math.max(peak, ++active);
      await delay(10);
      order.push(i);
      active--;
    });
    await Promise.all([0, 1, 2, 3, 4].map(job));
    expect([peak, order]).toEqual([2, [0, 1, 2, 3, 4]]);

    const one = new Semaphore(1);
    await one.acquire();
    const controller = new AbortController();
    const left = one.acquire(controller.signal);
    const next = one.acquire();
    controller.abort(new Error("gone"));
    await expect(left).rejects.toThrow("gone");
    one.release();
    await next; // the slot went past the waiter that left
  });
});

describe("CpuPool", () => {
  it("drops a chunk whose signal aborts while it waits for a worker", async () => {
    const pool = new CpuPool(1);
    try {
      const square = task(new URL("./fixtures/tasks.ts", import.meta.url).href, "square");
      const busy = pool.run(square, [3], new AbortController().signal);
      const controller = new AbortController();
      const waiting = pool.run(square, [4], controller.signal);
      controller.abort(new Error("not needed"));
      await expect(waiting).rejects.toThrow("not needed");
      expect(await busy).toEqual([9]);
    } finally {
      pool.close();
    }
  });

  it("a worker terminated for a cancelled chunk fails nothing of the worker that replaces it", async () => {
    // The cancelled worker's exit arrives after its slot has a new worker: it used to fail the new worker's chunk
    // ("CPU worker died") and drop it from the slot, leaving a live thread behind each cancel (the server-load bench's RSS growth).
    const pool = new CpuPool(1);
    try {
      const wait = task(new URL("./fixtures/tasks.ts", import.meta.url).href, "wait");
      const never = new AbortController().signal;
      await pool.run(wait, [0], never);
      const failed: string[] = [];
      for (let i = 0; i < 8; i++) {
        const cancel = new AbortController();
        setTimeout(() => cancel.abort(new Error("cancelled")), 50);
        await expect(pool.run(wait, [2_000], cancel.signal)).rejects.toThrow("cancelled");
        await pool.run(wait, [100], never).catch((err: Error) => failed.push(err.message));
      }
      expect(failed).toEqual([]);
    } finally {
      pool.close();
    }
  }, 60_000);
});
