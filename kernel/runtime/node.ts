import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Runtime } from "./types.ts";

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
  readTextFile: (path) => readFile(path, "utf8"),
  writeTextFile: (path, text) => writeFile(path, text, "utf8"),
  mkdir: async (path) => void (await mkdir(path, { recursive: true })),
  cpuTimeMs: () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1_000;
  },
  sha256Hex: (text) => createHash("sha256").update(text).digest("hex"),
  pid: () => process.pid,
  hostname: () => hostname(),
  stdoutIsTerminal: () => process.stdout.isTTY === true,
  stdoutColumns: () => process.stdout.columns ?? 100,
  writeOut: (text) => void process.stdout.write(text),
  writeErr: (text) => void process.stderr.write(text),
  onSignal: (signal, handler) => {
    process.on(signal, handler);
    return () => void process.off(signal, handler);
  },
  // stdout and stderr writes are synchronous for files, pipes and TTYs on Linux, so exiting loses no output.
  isMainModule: (url) => process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === url,
  exit: (code) => process.exit(code),
  progressStream: () => (process.stderr.isTTY ? process.stderr : undefined),
};
