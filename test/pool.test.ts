import { describe, expect, it } from "vitest";
import { parseClaim } from "../kernel/compute/claim.ts";
import { DevicePool } from "../kernel/compute/device-pool.ts";
import { CellarError } from "../kernel/errors.ts";

const GiB = 2 ** 30;
const pool = (n: number, memory = 8 * GiB) =>
  new DevicePool(Array.from({ length: n }, (_, i) => ({ id: `gpu${i}`, description: "test adapter", fallback: true, memoryBytes: memory, handle: i })));
const claim = (gpu: number, extra: Record<string, unknown> = {}) => parseClaim({ gpu, ...extra }, "test");

describe("claims", () => {
  it.each([
    [0, /gpu 0; expected a fraction in \(0, 1\]/],
    [-0.5, /gpu -0.5/],
    [Number.NaN, /gpu NaN/],
    [1.5, /gpu 1.5; above 1 a claim must be a whole number/],
    [0.00005, /precision of 0.0001/],
  ])("refuses gpu %s", (gpu, message) => {
    expect(() => claim(gpu)).toThrow(CellarError);
    expect(() => claim(gpu)).toThrow(message);
  });

  it("accepts Ray's forms", () => {
    expect(claim(0.5)).toMatchObject({ units: 5000, devices: 1 });
    expect(claim(0.0001)).toMatchObject({ units: 1, devices: 1 });
    expect(claim(1)).toMatchObject({ units: 10_000, devices: 1 });
    expect(claim(2)).toMatchObject({ units: 10_000, devices: 2 });
  });
});

describe("device pool", () => {
  it("runs two half claims together while a 0.6 claim waits, then admits it", async () => {
    const p = pool(1);
    const a = await p.acquire(claim(0.5));
    const b = await p.acquire(claim(0.5));
    let cGranted = false;
    const c = p.acquire(claim(0.6)).then((lease) => ((cGranted = true), lease));
    await new Promise((r) => setTimeout(r, 20));
    expect(cGranted).toBe(false);
    expect(p.waiting).toBe(1);
    a.release();
    await new Promise((r) => setTimeout(r, 5));
    expect(cGranted).toBe(false); // 0.5 free is not 0.6
    b.release();
    const lease = await c;
    expect(lease.share).toBe(0.6);
    lease.release();
    expect(p.leasesHeld).toBe(0);
    expect(p.devices[0].freeUnits).toBe(10_000);
  });

  it("admits first in, first out: a small claim does not overtake a waiting large one", async () => {
    const p = pool(1);
    const first = await p.acquire(claim(0.5));
    const order: string[] = [];
    const big = p.acquire(claim(1)).then((l) => (order.push("big"), l));
    const small = p.acquire(claim(0.25)).then((l) => (order.push("small"), l));
    await new Promise((r) => setTimeout(r, 10));
    expect(order).toEqual([]);
    first.release();
    (await big).release();
    (await small).release();
    expect(order).toEqual(["big", "small"]);
  });

  it("packs a device before using the next, or spreads when asked", async () => {
    const p = pool(2);
    const a = await p.acquire(claim(0.25));
    const b = await p.acquire(claim(0.25));
    expect([a.devices[0].id, b.devices[0].id]).toEqual(["gpu0", "gpu0"]);
    const c = await p.acquire(claim(0.25, { placement: "spread" }));
    expect(c.devices[0].id).toBe("gpu1");
    const whole = await p.acquire(claim(0.75));
    expect(whole.devices[0].id).toBe("gpu1");
    for (const l of [a, b, c, whole]) l.release();
    const two = await p.acquire(claim(2));
    expect(two.devices.map((d) => d.id)).toEqual(["gpu0", "gpu1"]);
    two.release();
    expect(p.leasesHeld).toBe(0);
  });

  it("accounts memory and refuses the overcommit instead of running out", async () => {
    const p = pool(1, 4 * GiB);
    const a = await p.acquire(claim(0.25, { gpuMemory: 3 * GiB }));
    let granted = false;
    const b = p.acquire(claim(0.25, { gpuMemory: 2 * GiB })).then((l) => ((granted = true), l));
    await new Promise((r) => setTimeout(r, 10));
    expect(granted).toBe(false); // fraction fits, memory does not
    a.release();
    (await b).release();
    expect(p.devices[0].freeMemory).toBe(4 * GiB);
  });

  it("fails at once a claim no device can ever hold", async () => {
    const p = pool(1, 4 * GiB);
    await expect(p.acquire(claim(0.5, { gpuMemory: 16 * GiB }))).rejects.toThrow(
      "a claim of gpu 0.5 with 16 GiB cannot be placed: the largest device has 4 GiB of memory",
    );
    await expect(p.acquire(claim(3))).rejects.toThrow("the pool has 1 device(s)");
    expect(p.waiting).toBe(0);
  });

  it("drops a waiting claim when its signal aborts, and keeps admitting others", async () => {
    const p = pool(1);
    const holder = await p.acquire(claim(1));
    const controller = new AbortController();
    const waiting = p.acquire(claim(0.5), controller.signal);
    const after = p.acquire(claim(0.5));
    controller.abort(new Error("cell cancelled"));
    await expect(waiting).rejects.toThrow("cell cancelled");
    holder.release();
    (await after).release();
    expect(p.leasesHeld).toBe(0);
    expect(p.waiting).toBe(0);
  });

  it("takes a lost device out and refuses claims that could only have fit there", async () => {
    const p = pool(2);
    const onBoth = p.acquire(claim(2));
    (await onBoth).release();
    const a = await p.acquire(claim(1));
    const needsTwo = p.acquire(claim(2));
    p.remove(p.devices[1], "device lost");
    await expect(needsTwo).rejects.toThrow(/the pool has 1 device\(s\) \(device gpu1 was lost: device lost\)/);
    a.release();
    const b = await p.acquire(claim(0.5));
    expect(b.devices[0].id).toBe("gpu0");
    b.release();
  });
});
