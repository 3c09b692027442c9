// The slice of Deno's global API that kernel/runtime/deno.ts uses, so that tsc
// (which checks the Node side) can check it too. `deno check` uses Deno's own
// types and never reads this file.
declare namespace Deno {
  const args: string[];
  const pid: number;
  const mainModule: string;
  const env: { get(name: string): string | undefined };
  const errors: { NotFound: new (...args: unknown[]) => Error; AlreadyExists: new (...args: unknown[]) => Error };
  interface Writer {
    writeSync(p: Uint8Array): number;
    isTerminal(): boolean;
  }
  const stdout: Writer;
  const stderr: Writer;
  function cwd(): string;
  function stat(path: string): Promise<{
    isFile: boolean; isDirectory: boolean; size: number;
    isFifo: boolean | null; isSocket: boolean | null; isBlockDevice: boolean | null; isCharDevice: boolean | null;
  }>;
  function realPath(path: string): Promise<string>;
  function readTextFile(path: string): Promise<string>;
  function readDir(path: string): AsyncIterable<{ name: string; isDirectory: boolean; isSymlink: boolean }>;
  function readFile(path: string): Promise<Uint8Array>;
  function open(path: string, options: { read: boolean }): Promise<{ read(p: Uint8Array): Promise<number | null>; close(): void }>;
  function open(path: string, options: { append: boolean; create: boolean }): Promise<{ write(p: Uint8Array): Promise<number>; close(): void }>;
  function symlink(target: string, path: string): Promise<void>;
  function writeTextFile(path: string, text: string, options?: { mode?: number; createNew?: boolean }): Promise<void>;
  interface ChildProcess {
    readonly pid: number;
    readonly stdout: ReadableStream<Uint8Array>;
    readonly stderr: ReadableStream<Uint8Array>;
    readonly status: Promise<{ success: boolean; code: number; signal: string | null }>;
    kill(signal?: string): void;
  }
  class Command {
    constructor(command: string, options: {
      args?: string[]; cwd?: string; env?: Record<string, string>;
      stdin?: "null" | "piped" | "inherit"; stdout?: "null" | "piped" | "inherit"; stderr?: "null" | "piped" | "inherit";
    });
    spawn(): ChildProcess;
  }
  function mkdir(path: string, options?: { recursive?: boolean }): Promise<void>;
  function rename(from: string, to: string): Promise<void>;
  function remove(path: string): Promise<void>;
  function hostname(): string;
  function consoleSize(): { columns: number; rows: number };
  function addSignalListener(signal: string, handler: () => void): void;
  function removeSignalListener(signal: string, handler: () => void): void;
  function exit(code?: number): never;
  function serve(
    options: { hostname: string; port: number; signal?: AbortSignal; onListen?: (addr: { port: number }) => void },
    handler: (request: Request) => Response | Promise<Response>,
  ): { shutdown(): Promise<void> };
  function watchFs(path: string, options?: { recursive?: boolean }): AsyncIterable<{ paths: string[] }> & { close(): void };
}
