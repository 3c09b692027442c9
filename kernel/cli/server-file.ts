/**
 * `<db>.server.json`, next to the DuckDB file: how a `cellar` command finds the `cellar serve` that holds
 * its store, to send its request there instead of failing on the store's lock. The server writes it once
 * listening and removes it as it stops; it holds the URL, the server's pid and whether a token is needed,
 * never the token. A file whose pid is dead, or whose server does not answer /healthz within a second, is
 * stale (a server killed with SIGKILL leaves one) and is ignored.
 *
 * @example
 * ```ts
 * import { announceServer, liveServer } from "./server-file.ts";
 *
 * const withdraw = await announceServer(".cellar/cellar.duckdb", { url: "http://127.0.0.1:7878", tokenRequired: false });
 * const server = await liveServer(".cellar/cellar.duckdb"); // → { url: "http://127.0.0.1:7878", pid, tokenRequired: false }
 * await withdraw();
 * ```
 */
import { runtime } from "../runtime/mod.ts";

export interface ServerFile {
  url: string;
  pid: number;
  tokenRequired: boolean;
}

/** How long a server named in the file has to answer /healthz before the file is taken as stale. */
const HEALTH_TIMEOUT_MS = 1_000;

/** The server file of the store at `db`; undefined for an in-memory store, which no other process can share. */
export function serverFilePath(db: string): string | undefined {
  return db === ":memory:" ? undefined : `${runtime.resolve(db)}.server.json`;
}

/**
 * Writes the server file of `db` for this process (through a temporary file and a rename, so that a
 * reader never sees half of it), replacing a stale one; resolves to the function that removes it again.
 */
export async function announceServer(db: string, server: Omit<ServerFile, "pid">): Promise<() => Promise<void>> {
  const path = serverFilePath(db);
  if (!path) return () => Promise.resolve();
  const pid = runtime.pid();
  const file: ServerFile = { url: server.url, pid, tokenRequired: server.tokenRequired };
  const temporary = `${path}.${pid}.tmp`;
  await runtime.writeTextFile(temporary, `${JSON.stringify(file, null, 2)}\n`);
  await runtime.rename(temporary, path);
  return async () => {
    // Only our own file: never one a later server wrote.
    if ((await readServerFile(path))?.pid === pid) await runtime.remove(path);
  };
}

/** The server named by the server file of `db`, if it is alive and answers; undefined otherwise. */
export async function liveServer(db: string): Promise<ServerFile | undefined> {
  const path = serverFilePath(db);
  const file = path && (await readServerFile(path));
  if (!file || !runtime.processAlive(file.pid)) return undefined;
  try {
    const res = await fetch(new URL("/healthz", file.url), { signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS) });
    await res.body?.cancel();
    return res.ok ? file : undefined;
  } catch {
    return undefined;
  }
}

async function readServerFile(path: string): Promise<ServerFile | undefined> {
  if (!(await runtime.exists(path))) return undefined;
  try {
    const value = JSON.parse(await runtime.readTextFile(path)) as Partial<ServerFile>;
    if (typeof value.url !== "string" || typeof value.pid !== "number") return undefined;
    return { url: value.url, pid: value.pid, tokenRequired: value.tokenRequired === true };
  } catch {
    // Unreadable or not JSON: as good as none.
    return undefined;
  }
}
