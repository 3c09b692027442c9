/** Shared test plumbing: temporary stores, pipeline files, and the CLI as a child process. */
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, afterEach } from "vitest";
import { Compute } from "../kernel/compute/devices.ts";
import { Store } from "../kernel/store/store.ts";

export const ROOT = resolve(import.meta.dirname, "..");

/** tsx's loader by absolute URL, so that a child started in any cwd can run .ts files. */
export const TSX = pathToFileURL(join(ROOT, "node_modules/tsx/dist/loader.mjs")).href;

export function tempDir(prefix = "cellar-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function tempStore(): Promise<Store> {
  return await Store.open(join(tempDir(), "cellar.duckdb"));
}

/**
 * Call at the top of a test file (or describe): returns a function that opens
 * a fresh temporary store, closed after each test.
 */
export function storesClosedAfterEach(): () => Promise<Store> {
  const stores: Store[] = [];
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
  });
  return async () => {
    const store = await tempStore();
    stores.push(store);
    return store;
  };
}

/** Writes a pipeline module into `dir` that imports the kernel by absolute path. */
export function writePipeline(dir: string, name: string, body: string): string {
  const file = join(dir, name);
  writeFileSync(file, `import { pipeline } from ${JSON.stringify(join(ROOT, "kernel/mod.ts"))};\n${body}\n`);
  return file;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `cellar <args>` under Node (tsx) in `cwd`. */
export function cli(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, ["--import", TSX, join(ROOT, "kernel/cli.ts"), ...args], {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, ...options.env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code, signal) => resolvePromise({ code, signal, stdout, stderr }));
  });
}

/**
 * Call at the top of a test file: a CPU-only compute and one with a WebGPU
 * device (lavapipe in CI), both closed after the file's tests.
 */
export function computesClosedAfterAll(): { cpuOnly: Compute; withGpu: Compute } {
  const cpuOnly = new Compute({ devices: "cpu" });
  const withGpu = new Compute({ devices: 1 });
  afterAll(async () => {
    await cpuOnly.close();
    await withGpu.close();
  });
  return { cpuOnly, withGpu };
}
