// Path arithmetic comes from Deno's Node compatibility: @std/path is on JSR, which this project cannot reach.
import { dirname, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createHash } from "node:crypto";
import { loadDawn } from "./dawn.ts";
import { processAlive } from "./node.ts";
import type { ChildProcess, Runtime, SpawnOptions } from "./types.ts";
import { urlOf } from "./url-of.ts";

const encoder = new TextEncoder();

export const runtime: Runtime = {
  name: "deno",
  args: () => Deno.args,
  env: (name) => Deno.env.get(name),
  cwd: () => Deno.cwd(),
  resolve: (...parts) => resolve(...parts),
  dirname: (path) => dirname(path),
  toFileUrl: (path) => pathToFileURL(path).href,
  fromFileUrl: (url) => fileURLToPath(url),
  exists: async (path) => {
    try {
      await Deno.stat(path);
      return true;
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return false;
      throw err;
    }
  },
  readDir: async (path) => {
    const names: string[] = [];
    for await (const entry of Deno.readDir(path)) names.push(entry.name);
    return names;
  },
  readDirEntries: async (path) => {
    const out: Array<{ name: string; directory: boolean }> = [];
    for await (const e of Deno.readDir(path)) {
      const directory = e.isSymlink ? (await runtime.stat(`${path}/${e.name}`))?.directory ?? false : e.isDirectory;
      out.push({ name: e.name, directory });
    }
    return out;
  },
  stat: async (path) => {
    try {
      const s = await Deno.stat(path);
      const kind = s.isFile ? "file" : s.isDirectory ? "directory" : s.isFifo ? "fifo" : s.isSocket ? "socket"
        : s.isBlockDevice ? "block_device" : s.isCharDevice ? "char_device" : "other";
      return { directory: s.isDirectory, size: s.size, kind };
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return undefined;
      throw err;
    }
  },
  realPath: (path) => Deno.realPath(path),
  readFile: (path) => Deno.readFile(path),
  readChunks: async function* (path, size) {
    const file = await Deno.open(path, { read: true });
    try {
      for (;;) {
        const buffer = new Uint8Array(size);
        const read = await file.read(buffer);
        if (read === null) return;
        yield read === size ? buffer : buffer.subarray(0, read);
      }
    } finally {
      file.close();
    }
  },
  readTextFile: (path) => Deno.readTextFile(path),
  writeTextFile: (path, text, options) => Deno.writeTextFile(path, text, options?.mode === undefined ? {} : { mode: options.mode }),
  createExclusive: async (path, text) => {
    try {
      await Deno.writeTextFile(path, text, { createNew: true });
      return true;
    } catch (err) {
      if (err instanceof Deno.errors.AlreadyExists) return false;
      throw err;
    }
  },
  mkdir: (path) => Deno.mkdir(path, { recursive: true }),
  rename: (from, to) => Deno.rename(from, to),
  remove: async (path) => {
    try {
      await Deno.remove(path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  },
  appendFile: async (path) => {
    const file = await Deno.open(path, { append: true, create: true });
    return {
      write: async (bytes) => {
        for (let offset = 0; offset < bytes.length;) offset += await file.write(bytes.subarray(offset));
      },
      close: () => Promise.resolve(file.close()),
    };
  },
  symlink: (target, path) => Deno.symlink(target, path),
  hasher: (algorithm) => {
    const hash = createHash(algorithm);
    return { update: (bytes) => void hash.update(bytes), hex: () => hash.digest("hex") };
  },
  // Deno has no signal 0 of its own; its Node compatibility layer's process.kill does it.
  processAlive: (pid) => processAlive(pid),
  // Deno.cpuUsage is not in Deno's stable types; its Node compatibility layer has the same counter.
  cpuTimeMs: () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1_000;
  },
  sha256Hex: (text) => createHash("sha256").update(text).digest("hex"),
  pid: () => Deno.pid,
  hostname: () => Deno.hostname(),
  stdoutIsTerminal: () => Deno.stdout.isTerminal(),
  stdoutColumns: () => {
    try {
      return Deno.consoleSize().columns;
    } catch {
      return 100;
    }
  },
  writeOut: (text) => writeAll(Deno.stdout, encoder.encode(text)),
  writeErr: (text) => writeAll(Deno.stderr, encoder.encode(text)),
  onSignal: (signal, handler) => {
    Deno.addSignalListener(signal, handler);
    return () => Deno.removeSignalListener(signal, handler);
  },
  isMainModule: (url) => Deno.mainModule === url,
  // Deno's built-in WebGPU only when Dawn cannot load: it freezes the event loop ~10 ms per round trip.
  httpGet: async (url, init) => {
    const response = await fetch(url, { headers: init.headers, redirect: "manual", signal: init.signal });
    const body = response.body;
    return {
      status: response.status,
      statusText: response.statusText,
      header: (name) => response.headers.get(name),
      // Deno's ReadableStream is async iterable; the DOM types that tsc checks against do not say so.
      body: (body ?? (async function* () {})()) as AsyncIterable<Uint8Array>,
      cancel: async () => void (await body?.cancel().catch(() => {})),
    };
  },
  cpuCount: () => navigator.hardwareConcurrency,
  spawnProcess: (command, args, options = {}) => spawnProcess(command, args, options),
  spawnWorker: (url, onMessage, onError) => {
    const worker = new Worker(url, { type: "module" });
    worker.onmessage = (event: MessageEvent) => onMessage(event.data);
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      onError(new Error(event.message));
    };
    return { post: (message) => worker.postMessage(message), terminate: () => worker.terminate() };
  },
  spawnHandlerWorker: (url, onMessage, onError) => {
    const entry = new URL("./deno-handler-worker.ts", import.meta.url);
    entry.searchParams.set("module", url);
    return runtime.spawnWorker(entry.href, onMessage, onError);
  },
  workerPort: () => {
    const scope = globalThis as unknown as { onmessage: ((e: MessageEvent) => void) | null; postMessage(m: unknown): void };
    return {
      onMessage: (handler) => void (scope.onmessage = (event) => handler(event.data)),
      post: (message) => scope.postMessage(message),
    };
  },
  gpu: async () => (await loadDawn()) ?? (navigator as { gpu?: GPU }).gpu,
  exit: (code) => Deno.exit(code),
  // Deno's exit does not wait for its blocking threads (a cell opening a FIFO), so it ends at once.
  terminate: () => Deno.exit(130),
  serve: (fetch, options) =>
    new Promise((resolve, reject) => {
      try {
        const server = Deno.serve({
          hostname: options.hostname,
          port: options.port,
          signal: options.signal,
          onListen: ({ port }) => resolve({ url: urlOf(options.hostname, port), port, close: () => server.shutdown() }),
        }, fetch);
      } catch (err) {
        reject(err);
      }
    }),
  watch: (dir, onChange) => {
    const watcher = Deno.watchFs(dir, { recursive: false });
    void (async () => {
      try {
        for await (const event of watcher) event.paths.forEach(onChange);
      } catch {
        // Closed, or the directory went away: nothing more to report.
      }
    })();
    return () => {
      try {
        watcher.close();
      } catch {
        // Already closed.
      }
    };
  },
  // Progress bars draw on a Node-style TTY stream; Deno provides one through its Node compatibility.
  progressStream: () => (Deno.stderr.isTerminal() ? process.stderr : undefined),
};

function spawnProcess(command: string, args: string[], options: SpawnOptions): ChildProcess {
  const { onOutput } = options;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(command, {
      args,
      stdin: "null",
      stdout: onOutput ? "piped" : "null",
      stderr: onOutput ? "piped" : "null",
      ...(options.env ? { env: options.env } : {}),
      ...(options.cwd ? { cwd: options.cwd } : {}),
    }).spawn();
  } catch (err) {
    // Deno refuses a program it cannot find at once; Node reports it later: both answer through `exited`.
    return { pid: 0, exited: Promise.resolve({ code: null, signal: null, error: (err as Error).message }), kill: () => {} };
  }
  if (onOutput) {
    for (const [stream, name] of [[child.stdout, "stdout"], [child.stderr, "stderr"]] as const) {
      const decoder = new TextDecoder();
      void stream.pipeTo(new WritableStream({ write: (chunk) => onOutput(decoder.decode(chunk, { stream: true }), name) })).catch(() => {});
    }
  }
  let ended = false;
  const exited = child.status.then(({ code, signal }) => {
    ended = true;
    return signal ? { code: null, signal } : { code, signal: null };
  });
  return {
    pid: child.pid,
    exited,
    kill: (signal = "SIGTERM") => {
      if (ended) return;
      try {
        child.kill(signal);
      } catch {
        // It ended between the check and the signal.
      }
    },
  };
}

function writeAll(target: { writeSync(p: Uint8Array): number }, bytes: Uint8Array): void {
  let offset = 0;
  while (offset < bytes.length) offset += target.writeSync(bytes.subarray(offset));
}
