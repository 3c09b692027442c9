/** A worker thread as the kernel sees it. */
export interface WorkerHandle {
  post(message: unknown): void;
  terminate(): void;
}

/** The kernel's end of the channel, as seen from inside a worker. */
export interface WorkerPort {
  onMessage(handler: (message: any) => void): void;
  post(message: unknown): void;
}

/** What a path is, links followed: only a `file` (a regular file) is safe to open and read. */
export type FileKind = "file" | "directory" | "fifo" | "socket" | "block_device" | "char_device" | "other";

/** A file open for appending; `close` flushes it to the kernel. */
export interface FileAppender {
  write(bytes: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/** Bytes in, a hex digest out (once). */
export interface Hasher {
  update(bytes: Uint8Array): void;
  hex(): string;
}

/** A GET request's answer, its body streamed (and decompressed): what the crawler reads from `fetch`. */
export interface HttpResponse {
  status: number;
  statusText: string;
  /** A header's value (repeats joined by ", "), or null. */
  header(name: string): string | null;
  /** The body, decoded from its Content-Encoding; iterating it after the signal aborts throws. */
  body: AsyncIterable<Uint8Array>;
  /** Stops reading the body and drops the connection. */
  cancel(): Promise<void>;
}

export interface HttpGetInit {
  headers: Record<string, string>;
  /** Aborts the request, headers or body. */
  signal: AbortSignal;
}

/** A web-standard request handler: what a Hono app's `fetch` is. */
export type FetchHandler = (request: Request) => Response | Promise<Response>;

export interface ServeOptions {
  hostname: string;
  /** 0: any free port (the answer says which). */
  port: number;
  /** Aborting closes the server, as close() does. */
  signal?: AbortSignal;
}

/** A listening HTTP server. */
export interface Served {
  /** `http://host:port`, the host bracketed when IPv6. */
  url: string;
  port: number;
  /** Stops listening and ends open connections. */
  close(): Promise<void>;
}

/** The signals the kernel sends the processes it started. */
export type ProcessSignal = "SIGTERM" | "SIGKILL" | "SIGINT" | "SIGHUP" | "SIGSTOP" | "SIGCONT";

export interface SpawnOptions {
  /** Variables added to this process's environment for the child. */
  env?: Record<string, string>;
  cwd?: string;
  /** Its stdout and stderr text as it comes; without it, the output is dropped. */
  onOutput?: (text: string, stream: "stdout" | "stderr") => void;
}

/** A process started by `spawnProcess`. */
export interface ChildProcess {
  /** Its process id; 0 when it could not be started (`exited` then says why). */
  readonly pid: number;
  /** Resolves once it has ended: its exit code, or the signal that ended it, or why it never started. */
  readonly exited: Promise<{ code: number | null; signal: string | null; error?: string }>;
  /** Sends it a signal (default SIGTERM); one that has already ended is no error. */
  kill(signal?: ProcessSignal): void;
}

/** What the kernel needs from the JavaScript runtime it runs on. Everything else is web standards. */
export interface Runtime {
  readonly name: "node" | "deno";
  /** Command-line arguments after the script. */
  args(): string[];
  env(name: string): string | undefined;
  cwd(): string;
  /** An absolute, normalized path: later parts resolve against earlier ones, the first against cwd. */
  resolve(...parts: string[]): string;
  dirname(path: string): string;
  toFileUrl(path: string): string;
  fromFileUrl(url: string): string;
  exists(path: string): Promise<boolean>;
  /** Names of the entries of a directory. */
  readDir(path: string): Promise<string[]>;
  /** Entries of a directory with whether each is a directory (symbolic links followed). */
  readDirEntries(path: string): Promise<Array<{ name: string; directory: boolean }>>;
  /** What is at `path` (links followed), or undefined when nothing is; `kind` tells a regular file from a FIFO, socket or device. */
  stat(path: string): Promise<{ directory: boolean; size: number; kind: FileKind } | undefined>;
  /** The canonical absolute path, every symbolic link resolved. */
  realPath(path: string): Promise<string>;
  readFile(path: string): Promise<Uint8Array>;
  /** A file's bytes in chunks of at most `size`, without holding the whole file. */
  readChunks(path: string, size: number): AsyncIterable<Uint8Array>;
  readTextFile(path: string): Promise<string>;
  /** Writes a file; `mode` (e.g. 0o600 for a secret) applies when the file is created. */
  writeTextFile(path: string, text: string, options?: { mode?: number }): Promise<void>;
  /**
   * Creates a file holding `text` only if nothing is at `path` (O_EXCL: of processes racing, one creates it);
   * false when something already is. A lock file is taken so.
   */
  createExclusive(path: string, text: string): Promise<boolean>;
  mkdir(path: string): Promise<void>;
  /** Moves `from` to `to`, replacing it: within one directory, readers see the old file or the new, never half of one. */
  rename(from: string, to: string): Promise<void>;
  /** Deletes a file; one that is already gone is no error. */
  remove(path: string): Promise<void>;
  /** Opens a file for appending bytes (created when absent): a download writes its parts as they arrive. */
  appendFile(path: string): Promise<FileAppender>;
  /** Makes `path` a symbolic link to `target` (relative to the link's directory when relative). */
  symlink(target: string, path: string): Promise<void>;
  /** An incremental SHA-1 or SHA-256 of bytes fed in parts: a download is checked without holding it. */
  hasher(algorithm: "sha1" | "sha256"): Hasher;
  /** Whether a process with this id is alive (a signal 0 reaches it, or exists but is not ours). */
  processAlive(pid: number): boolean;
  /** Process CPU time (user + system) in milliseconds since start. */
  cpuTimeMs(): number;
  /** SHA-256 of UTF-8 text, hex, computed synchronously. */
  sha256Hex(text: string): string;
  pid(): number;
  hostname(): string;
  stdoutIsTerminal(): boolean;
  stdoutColumns(): number;
  writeOut(text: string): void;
  writeErr(text: string): void;
  /** Calls `handler` on the signal; returns a function that removes it. */
  onSignal(signal: "SIGINT" | "SIGTERM", handler: () => void): () => void;
  /** True when the module at `url` is the program's entry point. */
  isMainModule(url: string): boolean;
  /**
   * A GET without following redirects, on kept-alive connections. Deno answers with its `fetch`; Node with
   * node:http, since undici's `fetch` costs about three times its CPU per request (0.8 ms against 0.3 ms,
   * measured over the PostgreSQL manual), and a crawl's main thread is bound by that.
   */
  httpGet(url: string, init: HttpGetInit): Promise<HttpResponse>;
  /** Logical CPU cores available to this process. */
  cpuCount(): number;
  /** Starts a program (looked up on PATH when `command` has no slash) with `args`, no shell, stdin closed. */
  spawnProcess(command: string, args: string[], options?: SpawnOptions): ChildProcess;
  /** Starts a worker running the module at `url`; it does not keep the process alive. `onError` hears it die. */
  spawnWorker(url: string, onMessage: (message: unknown) => void, onError: (error: Error) => void): WorkerHandle;
  /**
   * Starts a worker that answers each message with what the `handle` export of the module at `url` returns
   * for it (awaited), in the order they were sent; a handler that throws ends the worker (`onError`). Like
   * spawnWorker's, it keeps the process alive only while a message is unanswered. On Node the module is
   * bundled first (esbuild, cached by content hash under the temp dir): a worker that registers tsx takes
   * 1–1.7 s to start, a bundled one a fraction of that. Deno runs TypeScript workers natively.
   */
  spawnHandlerWorker(url: string, onMessage: (message: unknown) => void, onError: (error: Error) => void): WorkerHandle;
  /** Inside a worker: the channel to the thread that started it. */
  workerPort(): WorkerPort;
  /** The WebGPU entry point (Dawn where it loads), or undefined on a host without one. */
  gpu(): Promise<GPU | undefined>;
  /** Ends the process with `code`; stdout and stderr are fully written first. */
  exit(code: number): never;
  /** Ends the process at once, whatever is pending, as SIGINT does (a shell reports 130). */
  terminate(): never;
  /** Serves `fetch` over HTTP/1.1 (`@hono/node-server` under Node, `Deno.serve` under Deno); resolves once listening. */
  serve(fetch: FetchHandler, options: ServeOptions): Promise<Served>;
  /** Calls `onChange` with the absolute path of each file under `dir` that changes; returns a function that stops watching. */
  watch(dir: string, onChange: (path: string) => void): () => void;
  /** A stream the CLI's progress bars can draw on (a Node-compatible TTY stream), or undefined. */
  progressStream(): unknown;
}
