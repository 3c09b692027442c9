// kernel/remote/protocol.ts, the one module the server and remote kernels both build against: its keys, its
// value codec and its message checks, without a NATS server.
import { describe, expect, it } from "vitest";
import {
  chunkKey,
  chunkSubject,
  decodeChunk,
  decodeResult,
  describeFailure,
  encodeChunk,
  encodeResult,
  keyToken,
  packValues,
  resolveTaskModule,
  taskModuleRef,
  unpackValues,
} from "../kernel/remote/protocol.ts";
import { ChunkTryState } from "../kernel/state.ts";

const task = { module: "cells/dedup.ts", name: "minhashChunk" };
const parts = { scope: "a1b2c3", run: 7, cell: "embed docs", index: 3, codeVersion: "v1", task, items: packValues([1, 2]) };

describe("remote protocol", () => {
  it("keys a chunk by scope, run, cell, index and a digest of code version, task and items — not by attempt", () => {
    const key = chunkKey(parts);
    expect(key).toMatch(/^a1b2c3\.7\.embed=20docs\.3\.[0-9a-f]{24}$/);
    expect(chunkKey(parts)).toBe(key);
    expect(chunkKey({ ...parts, codeVersion: "v2" })).not.toBe(key);
    expect(chunkKey({ ...parts, items: packValues([1, 3]) })).not.toBe(key);
    expect(chunkKey({ ...parts, task: { ...task, name: "other" } })).not.toBe(key);
    expect(chunkSubject("gpu", key)).toBe(`cellar.chunks.gpu.${key}`);
    expect(keyToken("a.b*>ü")).toBe("a=2Eb=2A=3E=C3=BC");
    expect(() => chunkKey({ ...parts, scope: "a.b" })).toThrow(/scope "a\.b"; expected/);
  });

  it("packs typed arrays, bigints and $cellar-keyed objects so that they come back as they were", () => {
    const values = [new Uint32Array([1, 2 ** 32 - 1]), new Float32Array([0.5]), 12n, { $cellar: "user data", n: [1, null] }, "x", null];
    const back = unpackValues(packValues(values));
    expect(back[0]).toBeInstanceOf(Uint32Array);
    expect(back).toEqual(values);
    expect(unpackValues(packValues([Buffer.from("hi")]))[0]).toEqual(new Uint8Array([104, 105]));
  });

  it("names task modules relative to the checkout, so a worker elsewhere resolves them", () => {
    expect(taskModuleRef("file:///srv/cellar/cells/dedup.ts", "file:///srv/cellar/")).toBe("cells/dedup.ts");
    expect(resolveTaskModule("cells/dedup.ts", "file:///home/w/cellar")).toBe("file:///home/w/cellar/cells/dedup.ts");
    expect(() => resolveTaskModule("../etc/x.ts", "file:///home/w/cellar/")).toThrow(/expected a path inside the project/);
  });

  it("checks messages on the way in and out, with one line naming the field", () => {
    const key = chunkKey(parts);
    const message = {
      v: 2 as const, key, task, codeVersion: "v1", items: parts.items, claim: { gpu: 0.5, gpuMemory: 0 }, index: 3, first: 6, count: 2,
      run: 7, pipeline: "dedup", cell: "embed docs", attempt: 2, maxDeliver: 4, publishedAt: 1, msgId: key, ticket: "c2lnbmVk",
    };
    expect(decodeChunk(encodeChunk(message))).toEqual(message);
    expect(() => decodeChunk(new TextEncoder().encode(JSON.stringify({ ...message, v: 1 })))).toThrow(/^chunk message: v: .*\(protocol version 1; this kernel speaks 2\)$/);
    expect(() => decodeChunk(new TextEncoder().encode("{"))).toThrow("chunk message: not JSON (1 bytes)");
    const failure = {
      v: 2 as const, key, ok: false as const, worker: "w2", delivery: 3, error: "RangeError: 13 is unlucky", retryable: true, attempt: 2,
      msgId: `${key}.r12`, ticket: "c2lnbmVk",
      tries: [1, 2, 3].map((delivery) => ({ v: 2 as const, key, worker: delivery === 2 ? "w2" : "w1", delivery, state: ChunkTryState.Failed, at: 0 })),
    };
    const decoded = decodeResult(encodeResult(failure));
    expect(decoded).toEqual(failure);
    expect(describeFailure(failure, 6, 2)).toBe("chunk 3 (items 6–7) failed after 3 tries on workers w1, w2: RangeError: 13 is unlucky");
  });
});
