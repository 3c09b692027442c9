import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, watch, writeSync } from "node:fs";
import { mkdir, open, readdir, readFile, realpath, rename, rm, stat, symlink, writeFile } from "node:fs/promises";
import { availableParallelism, hostname } from "node:os";
import { dirname, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { isMainThread, parentPort, Worker } from "node:worker_threads";
import { loadDawn } from "./dawn.ts";
import { bundledModule } from "./node-bundle.ts";
import { httpGet } from "./node-http.ts";
import type { ChildProcess, Runtime, SpawnOptions, WorkerHandle } from "./types.ts";

export const runtime: Runtime = {
  name: "node",
  args: () => process.argv.slice(2),
  env: (name) => process.env[name],
  cwd: () => process.cwd(),
  resolve: (...parts) => resolve(...parts),
  dirname: (path) => dirname(path),
  toFileUrl: (path) => pathToFileURL(path).href,
  fromFileUrl: (url) => fileURLToPath(url),
  exists: (path) => Promise.resolve(existsSync(path)),
  readDir: (path) => readdir(path),
  readDirEntries: async (path) => {
    const entries = await readdir(path, { withFileTypes: true });
    return await Promise.all(entries.map(async (e) => ({
      name: e.name,
      directory: e.isSymbolicLink() ? (await runtime.stat(`${path}/${e.name}`))?.directory ?? false : e.isDirectory(),
    })));
  },
  stat: async (path) => {
    try {
      const s = await stat(path);
      const kind = s.isFile() ? "file" : s.isDirectory() ? "directory" : s.isFIFO() ? "fifo" : s.isSocket() ? "socket"
        : s.isBlockDevice() ? "block_device" : s.isCharacterDevice() ? "char_device" : "other";
      return { directory: s.isDirectory(), size: s.size, kind };
    } catch {
      return undefined;
    }
  },
  realPath: (path) => realpath(path),
  readFile: async (path) => new Uint8Array(await readFile(path)),
  readChunks: async function* (path, size) {
    const handle = await open(path, "r");
    try {
      for (;;) {
        const buffer = new Uint8Array(size);
        const { bytesRead } = await handle.read(buffer, 0, size, null);
        if (bytesRead === 0) return;
        yield bytesRead === size ? buffer : buffer.subarray(0, bytesRead);
      }
    } finally {
      await handle.close();
    }
  },
  readTextFile: (path) => readFile(path, "utf8"),
  writeTextFile: (path, text, options) => writeFile(path, text, { encoding: "utf8", ...(options?.mode === undefined ? {} : { mode: options.mode }) }),
  createExclusive: async (path, text) => {
    try {
      await writeFile(path, text, { encoding: "utf8", flag: "wx" });
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw err;
    }
  },
  mkdir: async (path) => void (await mkdir(path, { recursive: true })),
  rename: (from, to) => rename(from, to),
  remove: (path) => rm(path, { force: true }),
  appendFile: async (path) => {
    const handle = await open(path, "a");
    return {
      write: async (bytes) => {
        for (let offset = 0; offset < bytes.length;) offset += (await handle.write(bytes, offset)).bytesWritten;
      },
      close: () => handle.close(),
    };
  },
  symlink: (target, path) => symlink(target, path),
  hasher: (algorithm) => {
    const hash = createHash(algorithm);
    return { update: (bytes) => void hash.update(bytes), hex: () => hash.digest("hex") };
  },
  processAlive: (pid) => processAlive(pid),
  cpuTimeMs: () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1_000;
  },
  sha256Hex: (text) => createHash("sha256").update(text).digest("hex"),
  pid: () => process.pid,
  hostname: () => hostname(),
  stdoutIsTerminal: () => process.stdout.isTTY === true,
  stdoutColumns: () => process.stdout.columns ?? 100,
  writeOut: (text) => writeAll(1, text),
  writeErr: (text) => writeAll(2, text),
  onSignal: (signal, handler) => {
    process.on(signal, handler);
    return () => void process.off(signal, handler);
  },
  // writeOut/writeErr write synchronously (fs.writeSync, waiting out EAGAIN on a full non-blocking pipe), so
  // exiting loses no output: process.stdout.write to a pipe is asynchronous and process.exit drops the rest.
  isMainModule: (url) => process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === url,
  gpu: () => loadDawn(),
  httpGet,
  cpuCount: () => availableParallelism(),
  spawnProcess: (command, args, options = {}) => spawnProcess(command, args, options),
  spawnWorker: (url, onMessage, onError) => {
    // TypeScript workers start from a small .mjs entry that registers tsx in the new thread.
    const worker = url.endsWith(".ts")
      ? new Worker(new URL("./node-worker.mjs", import.meta.url), { workerData: { url } })
      : new Worker(new URL(url));
    return tracked(worker, onMessage, onError);
  },
  spawnHandlerWorker: (url, onMessage, onError) => spawnHandlerWorker(url, onMessage, onError),
  workerPort: () => {
    if (isMainThread || !parentPort) throw new Error("workerPort() called outside a worker");
    const port = parentPort;
    return { onMessage: (handler) => void port.on("message", handler), post: (message) => port.postMessage(message) };
  },
  exit: (code) => {
    // Node's exit joins libuv's threadpool; a thread stuck in a call that never returns (a cell abandoned while
    // opening a FIFO nobody writes) would hold the process forever. Work that is merely in flight (a file read
    // at load time) finishes on the event loop in milliseconds, so wait for it with the exit code set; only
    // what is still pending after 2 s is taken as stuck, and the process then ends by a signal instead.
    const pending = () => process.getActiveResourcesInfo().some((r) => THREADPOOL.test(r));
    if (!pending()) process.exit(code);
    process.exitCode = code;
    const since = Date.now();
    setInterval(() => {
      if (!pending()) process.exit(code);
      if (Date.now() - since > 2_000) runtime.terminate();
    }, 5);
    return undefined as never;
  },
  terminate: () => {
    // SIGINT's default action, which no pending work can hold: a shell reports 130, as for `exit(130)`.
    process.removeAllListeners("SIGINT");
    process.kill(process.pid, "SIGINT");
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1_000);
    process.kill(process.pid, "SIGKILL");
    throw new Error("unreachable");
  },
  serve: async (fetch, options) => (await import("./node-serve.ts")).serve(fetch, options),
  watch: (dir, onChange) => {
    const watcher = watch(dir, (_event, name) => name && onChange(resolve(dir, name.toString())));
    watcher.on("error", () => watcher.close());
    return () => watcher.close();
  },
  progressStream: () => (process.stderr.isTTY ? process.stderr : undefined),
};

/**
 * A worker as a WorkerHandle, referenced only while it has work: an idle pool must not keep the process
 * alive, a busy one must.
 */
function tracked(worker: Worker, onMessage: (message: unknown) => void, onError: (error: Error) => void): WorkerHandle {
  let outstanding = 0;
  const settle = () => --outstanding === 0 && worker.unref();
  worker.on("message", (message) => {
    settle();
    onMessage(message);
  });
  worker.on("error", (error) => {
    outstanding = 0;
    worker.unref();
    onError(error);
  });
  worker.on("exit", (code) => {
    if (outstanding > 0) onError(new Error(`worker exited with code ${code}`));
  });
  worker.unref();
  return {
    post: (message) => {
      if (outstanding++ === 0) worker.ref();
      worker.postMessage(message);
    },
    terminate: () => void worker.terminate(),
  };
}

/** runtime.spawnHandlerWorker: messages posted while the module is being bundled wait for the worker. */
function spawnHandlerWorker(url: string, onMessage: (message: unknown) => void, onError: (error: Error) => void): WorkerHandle {
  let handle: WorkerHandle | undefined;
  let terminated = false;
  const waiting: unknown[] = [];
  bundledModule(url).then((path) => {
    if (terminated) return;
    const worker = new Worker(new URL("./node-handler-worker.mjs", import.meta.url), { workerData: { url: pathToFileURL(path).href } });
    handle = tracked(worker, onMessage, onError);
    for (const message of waiting.splice(0)) handle.post(message);
  }, (err) => {
    if (!terminated) onError(new Error(`bundling ${url} for a worker: ${(err as Error).message}`));
  });
  return {
    post: (message) => (handle ? handle.post(message) : void waiting.push(message)),
    terminate: () => {
      terminated = true;
      handle?.terminate();
    },
  };
}

function spawnProcess(command: string, args: string[], options: SpawnOptions): ChildProcess {
  const { onOutput } = options;
  const child = spawn(command, args, {
    stdio: ["ignore", onOutput ? "pipe" : "ignore", onOutput ? "pipe" : "ignore"],
    env: { ...process.env, ...options.env },
    ...(options.cwd ? { cwd: options.cwd } : {}),
  });
  if (onOutput) {
    child.stdout?.setEncoding("utf8").on("data", (text: string) => onOutput(text, "stdout"));
    child.stderr?.setEncoding("utf8").on("data", (text: string) => onOutput(text, "stderr"));
  }
  const exited = new Promise<{ code: number | null; signal: string | null; error?: string }>((resolve) => {
    // A program that cannot start (not on PATH) reports "error" and never "exit".
    child.once("error", (err) => child.pid === undefined && resolve({ code: null, signal: null, error: err.message }));
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
  return {
    pid: child.pid ?? 0,
    exited,
    kill: (signal = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) child.kill(signal);
    },
  };
}

/** Signal 0 tests for a process without touching it; EPERM means one exists that we may not signal. */
export function processAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid < 1) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Requests libuv runs on its threadpool, as process.getActiveResourcesInfo() names them. */
const THREADPOOL = /^(FSReq|FileHandleCloseReq|GetAddrInfoReqWrap|GetNameInfoReqWrap)|Job$/;

function writeAll(fd: number, text: string): void {
  const bytes = Buffer.from(text, "utf8");
  let offset = 0;
  while (offset < bytes.length) {
    try {
      offset += writeSync(fd, bytes, offset);
    } catch (err) {
      // stdout is non-blocking once Node has opened process.stdout on a pipe: wait for the reader.
      if ((err as NodeJS.ErrnoException).code !== "EAGAIN") throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
    }
  }
}
