import { DuckDBConnection, DuckDBInstance, type DuckDBValue } from "@duckdb/node-api";
import { CellarError, isCellarError } from "../errors.ts";
import { runtime } from "../runtime/mod.ts";
import { damagedHeader } from "./damaged-header.ts";
import { MIGRATIONS, SCHEMA_VERSION } from "./schema.ts";
import { GroupWriter } from "./group-commit.ts";

export type Row = Record<string, unknown>;

/**
 * The name the store's file is attached under. Opened directly, DuckDB would name the catalog after the
 * file, and a file named like a pipeline (hello.duckdb, pipeline "hello") makes `hello.greetings` ambiguous
 * between that catalog and the pipeline's schema. No pipeline id holds a ":".
 */
const STORE_CATALOG = "cellar:store";
const USE_STORE = `USE "${STORE_CATALOG}"`;

/**
 * The storage format a new store file is created in. From v1.4.0 DuckDB writes into its WAL which checkpoint
 * of the file it follows, and refuses a WAL that belongs to another one; in the older default format it
 * replays such a WAL over the file, and a database copied after a checkpoint with its WAL from before holds
 * every row of that WAL twice (test/reliability/crash-images.test.ts). Only for new files: an existing store
 * is opened in the format it has (DuckDB upgrades the format of a file attached with a newer STORAGE_VERSION).
 */
const NEW_FILE_STORAGE = "v1.4.0";

/** The variable that sets the store's DuckDB memory limit (DEFAULT_MEMORY_LIMIT when unset). */
export const MEMORY_LIMIT_ENV = "CELLAR_DB_MEMORY_LIMIT";

/**
 * DuckDB's own default limit is 80% of RAM, so its buffer pool never evicts and a process's RSS grows with
 * every document ingested (bench/ingest-100k.bench.ts: ~16 MB per 1,000). Bounded, DuckDB spills what it
 * must keep to the temp directory instead (a query past the limit that cannot spill fails with DuckDB's
 * Out of Memory Error: raise the variable). 512MB is well above what the ingest and lexical tests need.
 */
const DEFAULT_MEMORY_LIMIT = "512MB";

/**
 * The instance-wide memory settings, so every connection shares them: the limit, and the spill directory
 * beside the file (`<db>.tmp`, DuckDB's default for a file it opens itself; an attached file would spill
 * into `.tmp` in the working directory).
 */
function memorySettings(path: string): Record<string, string> {
  const limit = runtime.env(MEMORY_LIMIT_ENV)?.trim() || DEFAULT_MEMORY_LIMIT;
  if (!/^\d+(\.\d+)?\s*([KMGT]i?B|B)$/i.test(limit)) {
    throw new CellarError(`${MEMORY_LIMIT_ENV}=${limit}: expected a memory size such as 512MB or 2GB`);
  }
  return path === ":memory:" ? { memory_limit: limit } : { memory_limit: limit, temp_directory: `${runtime.resolve(path)}.tmp` };
}

/**
 * The DuckDB file that holds runs, attempts, checkpoints, logs, costs and the
 * tables cells write. One process owns it for writing; DuckDB's file lock
 * enforces that and we turn its refusal into a message that names the holder.
 *
 * @example
 * ```ts
 * import { Store } from "./store.ts";
 *
 * const store = await Store.open(".cellar/cellar.duckdb");
 * const runs = await store.query("SELECT * FROM runs");
 * ```
 */
export class Store {
  readonly writer: GroupWriter;
  #readQueue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly path: string,
    private readonly instance: DuckDBInstance,
    private readonly conn: DuckDBConnection,
    writerConn: DuckDBConnection,
    lastLogSeq: number,
  ) {
    this.writer = new GroupWriter(writerConn, lastLogSeq, (err) => this.refusal(err));
  }

  /**
   * `err` as Cellar's one-line refusal when it is DuckDB finding this store damaged, else `err` itself. A
   * damaged block is found when it is read, and a commit reads blocks too: a free block it reuses, a
   * metadata block it rewrites. So a store that opened and passed every check can still refuse a write.
   */
  refusal(err: unknown): unknown {
    return damageError(this.path, err instanceof Error ? err.message : String(err)) ?? err;
  }

  static async open(path: string): Promise<Store> {
    if (path !== ":memory:") await runtime.mkdir(runtime.dirname(runtime.resolve(path)));
    const created = path !== ":memory:" && !(await runtime.exists(path));
    const memory = memorySettings(path);
    let instance: DuckDBInstance;
    try {
      // DuckDB opens a file with an SQLite header through its sqlite extension, downloading it if need be:
      // no network (and no other format) just for opening the wrong file. Cells get extensions back below.
      instance = await DuckDBInstance.create(":memory:", {
        autoload_known_extensions: "false",
        autoinstall_known_extensions: "false",
        ...memory,
      });
    } catch (err) {
      throw await openError(path, err);
    }
    try {
      const conn = await instance.connect();
      try {
        try {
          // A new file in the storage format whose WAL names the checkpoint it follows (see NEW_FILE_STORAGE).
          await conn.run(`ATTACH '${path.replaceAll("'", "''")}' AS "${STORE_CATALOG}"${created ? ` (STORAGE_VERSION '${NEW_FILE_STORAGE}')` : ""}`);
        } catch (err) {
          throw await openError(path, err);
        }
        // The in-memory default catalog goes: a connection that forgot its USE fails instead of writing there.
        await conn.run(USE_STORE);
        await conn.run("DETACH memory");
        await migrate(path, conn);
        await conn.run("SET GLOBAL autoload_known_extensions = true");
        await conn.run("SET GLOBAL autoinstall_known_extensions = true");
        const [{ seq }] = (await conn.runAndReadAll("SELECT coalesce(max(seq), 0) AS seq FROM logs")).getRowObjectsJS();
        return new Store(path, instance, conn, await connectTo(instance), Number(seq));
      } catch (err) {
        conn.closeSync();
        throw err;
      }
    } catch (err) {
      // Refused (not a Cellar store, a newer schema): release the file, or this process keeps it locked.
      instance.closeSync();
      // Damage can surface past ATTACH too (a catalog block read by the migration check): the same one line.
      throw isCellarError(err) ? err : await openError(path, err);
    }
  }

  /** Runs `sql` on the shared connection, one statement at a time, and returns rows as JS objects. */
  query(sql: string, values: DuckDBValue[] = []): Promise<Row[]> {
    const result = this.#readQueue.then(async () => {
      try {
        const reader = await this.conn.runAndReadAll(sql, values);
        return reader.getRowObjectsJS() as Row[];
      } catch (err) {
        // A damaged block is found when it is read, not at open: said as open says it.
        throw this.refusal(err);
      }
    });
    this.#readQueue = result.catch(() => {});
    return result;
  }

  /** A transaction of its own, for writes that must commit together (creating runs, a cell's tables). */
  async transaction<T>(body: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
    const conn = await this.connect();
    try {
      await conn.run("BEGIN TRANSACTION");
      try {
        const result = await body(conn);
        await conn.run("COMMIT");
        return result;
      } catch (err) {
        await conn.run("ROLLBACK").catch(() => {});
        // As in query(): the first transaction after open (markInterrupted) is what reads a damaged runs table.
        throw this.refusal(err);
      }
    } finally {
      conn.closeSync();
    }
  }

  /** A separate connection, for a cell that writes tables in a transaction it commits with its output. */
  connect(): Promise<DuckDBConnection> {
    return connectTo(this.instance);
  }

  async close(): Promise<void> {
    // The writer's connection too: while any connection is open the database, and its file lock, stay open.
    await this.writer.close();
    await this.#readQueue;
    this.conn.closeSync();
    this.instance.closeSync();
  }
}

/** A connection whose default catalog is the store's (`USE` holds per connection). */
async function connectTo(instance: DuckDBInstance): Promise<DuckDBConnection> {
  const conn = await instance.connect();
  try {
    await conn.run(USE_STORE);
  } catch (err) {
    conn.closeSync();
    throw err;
  }
  return conn;
}

async function migrate(path: string, conn: DuckDBConnection): Promise<void> {
  const found = await conn.runAndReadAll(
    "SELECT count(*) AS n FROM information_schema.tables WHERE table_name = 'cellar_meta'",
  );
  let version = 0;
  if (Number(found.getRowObjectsJS()[0].n) > 0) {
    const rows = (await conn.runAndReadAll("SELECT value FROM cellar_meta WHERE key = 'schema_version'"))
      .getRowObjectsJS();
    version = Number(rows[0]?.value ?? 0);
  } else {
    const tables = await conn.runAndReadAll("SELECT count(*) AS n FROM information_schema.tables");
    if (Number(tables.getRowObjectsJS()[0].n) > 0) {
      throw new CellarError(`database ${path}: a DuckDB file, but not a Cellar store (no cellar_meta table); use another --db`);
    }
  }
  if (version > SCHEMA_VERSION) {
    throw new CellarError(
      `database ${path}: written by a newer Cellar (schema version ${version}; this Cellar knows up to ${SCHEMA_VERSION}); upgrade Cellar to open it`,
    );
  }
  for (let v = version; v < SCHEMA_VERSION; v++) {
    await conn.run("BEGIN TRANSACTION");
    try {
      await conn.run(MIGRATIONS[v]);
      await conn.run(
        "INSERT INTO cellar_meta VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [String(v + 1)],
      );
      await conn.run("COMMIT");
    } catch (err) {
      await conn.run("ROLLBACK").catch(() => {});
      throw err;
    }
  }
}

async function openError(path: string, err: unknown): Promise<Error> {
  const message = err instanceof Error ? err.message : String(err);
  const holder = /Conflicting lock is held in (.+?) \(PID (\d+)\)/.exec(message);
  if (holder) {
    return new CellarError(
      `database ${path} is held for writing by another process (PID ${holder[2]}, ${holder[1]}); stop it or pass another --db`,
    );
  }
  if (/sqlite/i.test(message)) {
    return new CellarError(`database ${path}: an SQLite database, not a DuckDB one; pass a DuckDB file or a new path with --db`);
  }
  if (/not a valid DuckDB database file/.test(message)) {
    const damage = await damagedHeader(path);
    if (damage) return new CellarError(`database ${path}: damaged: a DuckDB file, but ${damage}; restore the file from a backup`);
    return new CellarError(`database ${path}: not a DuckDB database file; pass a DuckDB file or a new path with --db`);
  }
  return damageError(path, message) ?? new CellarError(`database ${path}: ${message.split("\n", 1)[0]}`);
}

/**
 * DuckDB's refusals of a damaged store, said as what is wrong and what to do. Each is a refusal, never a
 * guess: a store opened past damage could show a state that looks valid and is not.
 */
function damageError(path: string, message: string): CellarError | undefined {
  const block = /Corrupt database file: computed checksum \d+ does not match stored checksum \d+ in block at location (\d+)/.exec(message);
  if (block) {
    return new CellarError(
      `database ${path}: damaged: the block at byte ${block[1]} fails its checksum (bad media, or a write torn by a crash); restore the file from a backup`,
    );
  }
  const wal = /replaying WAL file "(.+?)": Corrupt WAL file: entry at byte position (\d+)/.exec(message);
  if (wal) {
    return new CellarError(
      `database ${path}: its WAL ${wal[1]} is damaged at byte ${wal[2]} (an entry fails its checksum); restore both files from a backup, ` +
        `or move the WAL aside to open the store as of its last checkpoint, without the commits since`,
    );
  }
  if (/WAL checkpoint iteration does not match|WAL does not match database file/.test(message)) {
    return new CellarError(
      `database ${path}: its WAL ${path}.wal belongs to another state of the file (the two were copied at different moments); ` +
        `restore both from one backup, or move the WAL aside to open the store as of its last checkpoint`,
    );
  }
  return undefined;
}

