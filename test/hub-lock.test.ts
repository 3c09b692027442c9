// Two downloads of one hub file at once (two cells, or two `cellar run`s, fetching the same model) take turns
// through `blobs/<etag>.lock`: before it, both appended to one `.incomplete`, and the checksum refused the
// mix. Against the local hub (test/fixtures/hub-server.ts): the second waits, saying for whom, and finds the
// blob done; a lock left by a process that died is taken over; a live holder whose part stops growing is
// refused in one line naming the lock.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { fetchHubModel } from "../cells/models/hub.ts";
import { writeTinyBert } from "./fixtures/tiny-bert.ts";
import { commitOf, type HubServer, readModelFiles, startHubServer } from "./fixtures/hub-server.ts";
import { tempDir } from "./helpers.ts";

// The weights (from the CDN, large enough to stall halfway) and one small file (from the hub itself).
const FILES = ["config.json", "onnx/model.onnx"];
const WEIGHTS = "onnx/model.onnx";
let work: string;
let files: Record<string, Uint8Array>;
let hub: HubServer;
let cache: string;

beforeAll(async () => {
  work = tempDir("cellar-hub-lock-");
  files = readModelFiles(writeTinyBert(join(work, "m"), { dtypes: ["fp32"], seed: 7 }));
  const commit = commitOf(files);
  hub = await startHubServer([{ id: "acme/lock-bert", commits: { [commit]: files }, refs: { main: commit } }]);
  process.env.HF_ENDPOINT = hub.url;
});
afterAll(async () => {
  await hub.close();
  rmSync(work, { recursive: true, force: true });
});
afterEach(() => void (hub.requests.length = 0));

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const blobs = () => join(cache, "models--acme--lock-bert", "blobs");
const weightsLock = () => join(blobs(), `${sha256(files[WEIGHTS])}.lock`);
// Only the weights are large enough to be served from the CDN.
const weightRequests = () => hub.requests.filter((r) => r.server === "cdn");
function fetchInto(logs: string[], timing = { stallMs: 300, connectMs: 2_000 }) {
  return fetchHubModel("acme/lock-bert", { files: FILES, log: (line) => logs.push(line), ...timing });
}
function freshCache(): void {
  cache = join(work, `cache-${Math.random().toString(36).slice(2)}`);
  process.env.CELLAR_MODEL_CACHE = cache;
}

describe("two downloads of one hub file", () => {
  it("take turns: the second waits for the first, saying so, and finds the file done", async () => {
    freshCache();
    // The first download stalls halfway (and resumes after stallMs): the second comes while it holds the lock.
    hub.stallOnce(WEIGHTS, 0.5);
    const [one, two] = [[], []] as string[][];
    const [a, b] = await Promise.all([fetchInto(one), fetchInto(two)]);
    expect(a.dir).toBe(b.dir);
    expect(sha256(readFileSync(join(a.dir, WEIGHTS)))).toBe(sha256(files[WEIGHTS]));
    // The stalled body and its resumption: one download's requests, none from the waiter.
    expect(weightRequests().map((r) => r.range === undefined ? "whole" : "range")).toEqual(["whole", "range"]);
    // Each file is raced for: the weights certainly waited for, the small files perhaps.
    const waits = [...one, ...two].filter((l) => l.includes("waiting for it"));
    expect(waits).toContain(`model acme/lock-bert: ${WEIGHTS} is being downloaded by process ${process.pid}; waiting for it (${weightsLock()})`);
    for (const line of waits) expect(line).toMatch(new RegExp(`^model acme/lock-bert: \\S+ is being downloaded by process ${process.pid}; waiting for it \\(\\S+\\.lock\\)$`));
    expect(readdirSync(blobs()).filter((f) => f.endsWith(".lock") || f.endsWith(".incomplete"))).toEqual([]);
  });

  it("takes over a lock whose process has died, and refuses a live holder (or one on another host) whose part stops growing, in one line", async () => {
    freshCache();
    mkdirSync(blobs(), { recursive: true });
    const dead = spawnSync("true").pid;
    writeFileSync(weightsLock(), `${dead}\n`);
    const logs: string[] = [];
    const model = await fetchInto(logs);
    expect(sha256(readFileSync(join(model.dir, WEIGHTS)))).toBe(sha256(files[WEIGHTS]));
    expect(logs.some((l) => l.includes("waiting"))).toBe(false);
    expect(existsSync(weightsLock())).toBe(false);

    freshCache();
    mkdirSync(blobs(), { recursive: true });
    // The test's parent process: alive, and writing nothing.
    writeFileSync(weightsLock(), `${process.ppid}\n`);
    const started = Date.now();
    await expect(fetchInto([], { stallMs: 100, connectMs: 500 })).rejects.toThrow(
      `model acme/lock-bert: ${WEIGHTS} is being downloaded by process ${process.ppid}, which has written nothing for 0.6 s; stop that process, or delete ${weightsLock()} if none downloads it`,
    );
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(readFileSync(weightsLock(), "utf8")).toBe(`${process.ppid}\n`);

    // A holder on another host (a cache on a shared disk) cannot be asked whether it lives: waited for, not taken over.
    writeFileSync(weightsLock(), `${dead} elsewhere\n`);
    await expect(fetchInto([], { stallMs: 100, connectMs: 500 })).rejects.toThrow(
      `model acme/lock-bert: ${WEIGHTS} is being downloaded by process ${dead} on elsewhere, which has written nothing for 0.6 s;`,
    );
  });
});
