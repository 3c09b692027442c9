/**
 * The invariants a Cellar store must hold after any crash, checked over the
 * DuckDB file itself (opened read-only, in an instance of its own): the kill
 * harnesses (CLI, `cellar serve`) and the crash-image test call it after each
 * kill and resume. Each broken invariant is one Violation naming the run,
 * cell or table; an empty list is a store that kept its promises.
 *
 * A file that cannot be opened at all throws StoreUnreadable (a CellarError
 * with one line), so that a caller can tell "refused" from "opened but wrong".
 *
 * @example
 * ```ts
 * import { checkInvariants, committedSnapshot, tableHashes } from "./invariants.ts";
 *
 * const before = await committedSnapshot("/tmp/db.duckdb"); // after a kill
 * // … resume the run …
 * const violations = await checkInvariants("/tmp/db.duckdb", { committed: before }); // → [] when nothing was lost
 * const hashes = await tableHashes("/tmp/db.duckdb"); // → Map { "table ingest.chunks" → "120:8123…", … }
 * ```
 */
import { DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import { CellarError, errorLine } from "../../kernel/errors.ts";
import { AttemptState, RunState } from "../../kernel/state.ts";

export interface Violation {
  /** The invariant's name, e.g. "attempts-match-cells". */
  invariant: string;
  /** One line naming the run, cell or table. */
  detail: string;
}

/** The outputs committed at some moment: `run_id/cell` → output_hash. */
export interface Snapshot {
  outputs: Map<string, string>;
}

/** The store file could not be opened for checking (missing, not DuckDB, locked, corrupt). */
export class StoreUnreadable extends CellarError {
  override name = "StoreUnreadable";
}

/** Row as JS values, bigints as numbers or strings. */
type Row = Record<string, unknown>;

/** A table reference inside a cell's output JSON (kernel/output.ts TableRef). */
interface Ref {
  $table: string;
  sql: string;
  rows: number;
  hash: string;
}

/** The store's own tables and the columns that key their rows (schema.ts: primary keys, and logs' seq). */
const STORE_KEYS: Record<string, string[]> = {
  runs: ["run_id"],
  "runs ": ["pipeline", "run_key"],
  attempts: ["run_id", "cell", "try_number"],
  outputs: ["run_id", "cell"],
  logs: ["seq"],
  costs: ["run_id", "cell", "try_number", "resource"],
  cell_reasons: ["run_id", "cell"],
  check_details: ["run_id", "cell", "try_number"],
};

const RUN_STATES = new Set<string>(Object.values(RunState));

/** Names of columns and output keys that hold a measured time (see tableHashes): ms_per_query, msPerQuery, wallMs, seconds. */
const TIMING = /(^|_)(ms|seconds)(_|$)|^(ms|seconds)[A-Z]|[a-z](Ms|Seconds)([A-Z]|$)/;

/** What checkInvariants is told about the file. */
export interface CheckOptions {
  /** Outputs seen committed earlier (committedSnapshot), which must still be there. */
  committed?: Snapshot;
  /**
   * The file as a killed process left it, before any process opened it again: runs and tries may still be
   * marked running (the next process to open the store marks them interrupted). Default false: the file
   * after a process opened it (and ran or resumed), where nothing may be left running.
   */
  crashed?: boolean;
}

/** Every violated invariant in the store at `dbPath`. */
export async function checkInvariants(dbPath: string, options: CheckOptions = {}): Promise<Violation[]> {
  return await withStore(dbPath, async (conn) => {
    const violations: Violation[] = [];
    const found = (invariant: string, detail: string) => violations.push({ invariant, detail });
    const outputs = await rows(conn, "SELECT run_id, cell, pipeline, try_number, output, output_hash, cached_from, created_at FROM outputs");
    if (options.committed) checkCommittedKept(outputs, options.committed, found);
    await checkTableRefs(conn, outputs, found);
    await checkNoDuplicates(conn, found);
    await checkViews(conn, outputs, found);
    await checkRuns(conn, options.crashed ?? false, found);
    await checkAttempts(conn, options.crashed ?? false, found);
    return violations;
  }, () => {
    const violations: Violation[] = [];
    checkCommittedKept([], options.committed ?? { outputs: new Map() }, (invariant, detail) => violations.push({ invariant, detail }));
    return violations;
  });
}

/** The outputs committed now, to pass as `committed` to a later check. */
export async function committedSnapshot(dbPath: string): Promise<Snapshot> {
  return await withStore(dbPath, async (conn) => {
    const outputs = await rows(conn, "SELECT run_id, cell, output_hash FROM outputs");
    return { outputs: new Map(outputs.map((o) => [`${o.run_id}/${o.cell}`, String(o.output_hash)])) };
  }, () => ({ outputs: new Map() }));
}

/** The state of `pipeline`'s latest run, or undefined when it has none (or the file cannot be read). */
export async function latestRunState(dbPath: string, pipeline: string): Promise<string | undefined> {
  return await withStore(dbPath, async (conn) => {
    const [run] = await rows(conn, "SELECT state FROM runs WHERE pipeline = ? ORDER BY run_id DESC LIMIT 1", [pipeline]);
    return run === undefined ? undefined : String(run.state);
  }, () => undefined);
}

/**
 * A content hash of each final table, order-independent, to compare a store
 * that was killed and resumed with one that ran straight through:
 * - `table <pipeline>.<name>`: the rows each pipeline view shows (the latest committed version);
 * - `output <pipeline>.<cell>`: the output of the pipeline's latest run;
 * - `runs <pipeline>`: how many runs, in which states.
 *
 * Left out, because they legitimately differ between two runs of the same
 * work: run ids and run keys (a manual run's key holds its start time and a
 * random suffix), every TIMESTAMP column (fetched_at is the wall clock of the
 * crawl), the physical table names and content hashes inside outputs (the
 * name carries the run id, the hash covers the timestamp and timing columns;
 * the rows are compared through the views instead), and the columns and
 * output keys that measure time (`ms_per_query`, `msPerQuery`, `wallMs`,
 * `seconds`), which a loaded machine changes from run to run.
 */
export async function tableHashes(dbPath: string): Promise<Map<string, string>> {
  return await withStore(dbPath, async (conn) => {
    const hashes = new Map<string, string>();
    for (const view of await pipelineViews(conn)) {
      const columns = await rows(
        conn,
        `SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ? AND data_type NOT LIKE 'TIMESTAMP%'
         ORDER BY ordinal_position`,
        [view.schema, view.name],
      );
      const list = columns.map((c) => String(c.column_name)).filter((c) => !TIMING.test(c)).map((c) => `hash(${ident(c)})`).join(", ");
      const [h] = await rows(conn, `SELECT count(*) AS n, coalesce(sum(hash(${list}))::VARCHAR, '0') AS h FROM ${ident(view.schema)}.${ident(view.name)}`);
      hashes.set(`table ${view.schema}.${view.name}`, `${h.n}:${h.h}`);
    }
    const latest = await rows(
      conn,
      `SELECT o.pipeline, o.cell, o.output FROM outputs o
       WHERE o.run_id = (SELECT max(run_id) FROM runs r WHERE r.pipeline = o.pipeline)`,
    );
    for (const o of latest) hashes.set(`output ${o.pipeline}.${o.cell}`, stableJson(JSON.parse(String(o.output))));
    const runs = await rows(conn, `SELECT pipeline, state, count(*) AS n FROM runs GROUP BY ALL ORDER BY ALL`);
    for (const r of runs) {
      const key = `runs ${r.pipeline}`;
      hashes.set(key, `${hashes.get(key) ?? ""}${r.state}×${r.n} `);
    }
    return hashes;
  }, () => new Map());
}

// ---- Checks ---------------------------------------------------------------------------------------------------

type Found = (invariant: string, detail: string) => void;

/** Every committed cell output is still there, unchanged. */
function checkCommittedKept(outputs: Row[], committed: Snapshot, found: Found): void {
  const now = new Map(outputs.map((o) => [`${o.run_id}/${o.cell}`, String(o.output_hash)]));
  for (const [key, hash] of committed.outputs) {
    const [run, cell] = key.split("/");
    const current = now.get(key);
    if (current === undefined) found("committed-output-kept", `run ${run} cell ${cell}: its committed output is gone`);
    else if (current !== hash) found("committed-output-kept", `run ${run} cell ${cell}: output hash ${current.slice(0, 12)}, committed as ${hash.slice(0, 12)}`);
  }
}

/** Every table an output refers to exists with the rows it was committed with (the hash TableWriter.finish took). */
async function checkTableRefs(conn: DuckDBConnection, outputs: Row[], found: Found): Promise<void> {
  const seen = new Set<string>();
  for (const o of outputs) {
    for (const ref of tableRefs(JSON.parse(String(o.output)))) {
      if (seen.has(ref.sql)) continue;
      seen.add(ref.sql);
      const where = `run ${o.run_id} cell ${o.cell}: table ${ref.sql}`;
      const target = parseTableSql(ref.sql);
      const columns = target && await rows(
        conn,
        `SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position`,
        [target.schema, target.name],
      );
      if (!columns || columns.length === 0) {
        found("table-ref-intact", `${where} is missing`);
        continue;
      }
      const list = columns.map((c) => `hash(${ident(String(c.column_name))})`).join(", ");
      const [h] = await rows(conn, `SELECT count(*) AS n, coalesce(sum(hash(${list}))::VARCHAR, '0') AS h FROM ${ref.sql}`);
      if (Number(h.n) !== ref.rows || String(h.h) !== ref.hash) {
        found("table-ref-intact", `${where} holds ${h.n} rows (hash ${String(h.h).slice(0, 12)}), committed with ${ref.rows} (hash ${ref.hash.slice(0, 12)})`);
      }
    }
  }
}

/** No row twice: the store's tables by their keys, each version of a cell's table by the whole row (they have no key). */
async function checkNoDuplicates(conn: DuckDBConnection, found: Found): Promise<void> {
  for (const [table, key] of Object.entries(STORE_KEYS)) {
    const name = table.trim();
    const cols = key.map(ident).join(", ");
    const dups = await rows(conn, `SELECT ${cols}, count(*) AS n FROM main.${ident(name)} GROUP BY ALL HAVING count(*) > 1 LIMIT 3`);
    for (const d of dups) found("no-duplicate-row", `table ${name}: ${key.map((k) => `${k}=${d[k]}`).join(" ")} appears ${d.n} times`);
  }
  for (const version of await cellTables(conn)) {
    const sql = `${ident(version.schema)}.${ident(version.name)}`;
    const [d] = await rows(conn, `SELECT count(*) - count(DISTINCT whole_row__) AS extra FROM ${sql} AS whole_row__`);
    if (Number(d.extra) > 0) found("no-duplicate-row", `table ${sql}: ${d.extra} rows are copies of another row`);
  }
}

/** Each pipeline view selects from a table a committed output wrote, and from the latest one such output wrote. */
async function checkViews(conn: DuckDBConnection, outputs: Row[], found: Found): Promise<void> {
  // Per view name, the table versions committed outputs wrote (cached outputs repeat an earlier run's), newest first.
  const written = new Map<string, string[]>();
  const byTime = [...outputs].filter((o) => o.cached_from === null)
    .sort((a, b) => Number(b.created_at) - Number(a.created_at) || Number(b.run_id) - Number(a.run_id));
  for (const o of byTime) {
    for (const ref of tableRefs(JSON.parse(String(o.output)))) {
      const target = parseTableSql(ref.sql);
      if (!target) continue;
      const key = `${target.schema}.${target.name.replace(/@\d+$/, "")}`;
      written.set(key, [...(written.get(key) ?? []), `${target.schema}.${target.name}`]);
    }
  }
  const views = await pipelineViews(conn);
  const named = new Set(views.map((v) => `${v.schema}.${v.name}`));
  for (const [key, versions] of written) {
    if (!named.has(key)) found("view-latest", `no view ${key}; the latest committed version is ${versions[0]}`);
  }
  for (const view of views) {
    const key = `${view.schema}.${view.name}`;
    const target = /FROM\s+(.+?);?\s*$/is.exec(view.sql)?.[1];
    const parsed = target === undefined ? undefined : parseTableSql(target.trim());
    const points = parsed ? `${parsed.schema}.${parsed.name}` : String(target);
    const versions = written.get(key) ?? [];
    if (!versions.includes(points)) found("view-committed", `view ${key} selects from ${points}, which no committed output wrote`);
    else if (versions[0] !== points) found("view-latest", `view ${key} selects from ${points}; the latest committed version is ${versions[0]}`);
  }
}

/** No run is left running (a new process marks them interrupted, which resume takes); ended runs have an end. */
async function checkRuns(conn: DuckDBConnection, crashed: boolean, found: Found): Promise<void> {
  for (const r of await rows(conn, "SELECT run_id, pipeline, state, ended_at FROM runs ORDER BY run_id")) {
    const state = String(r.state);
    const where = `run ${r.run_id} (${r.pipeline})`;
    if (!RUN_STATES.has(state)) found("run-finished-or-resumable", `${where}: unknown state "${state}"`);
    else if (state === RunState.Running && !crashed) found("run-finished-or-resumable", `${where}: still running, with no process running it`);
    else if ((state === RunState.Success || state === RunState.Failed) && r.ended_at === null) {
      found("run-finished-or-resumable", `${where}: ${state} without an end time`);
    }
  }
  const cellsWithoutOutput = await rows(
    conn,
    `SELECT DISTINCT a.run_id, a.cell FROM attempts a JOIN runs r USING (run_id)
     WHERE r.state = '${RunState.Success}' AND NOT EXISTS (SELECT 1 FROM outputs o WHERE o.run_id = a.run_id AND o.cell = a.cell)
     ORDER BY ALL LIMIT 5`,
  );
  for (const c of cellsWithoutOutput) found("run-finished-or-resumable", `run ${c.run_id}: succeeded, but cell ${c.cell} has no output`);
}

/** Attempts agree with the outputs (the cells' truth), and costs and logs belong to attempts that exist. */
async function checkAttempts(conn: DuckDBConnection, crashed: boolean, found: Found): Promise<void> {
  const bad = (invariant: string, sql: string, detail: (r: Row) => string) =>
    rows(conn, `${sql} ORDER BY ALL LIMIT 5`).then((list) => list.forEach((r) => found(invariant, detail(r))));
  const tryOf = (r: Row) => `run ${r.run_id} cell ${r.cell} try ${r.try_number}`;
  if (!crashed) {
    await bad("attempts-match-cells", `SELECT run_id, cell, try_number FROM attempts WHERE state = '${AttemptState.Running}'`, (r) => `${tryOf(r)}: still running`);
  }
  // A computed output was made by a successful try of the same number; a cached one by a cached "try". At a crash
  // the try's success may not be written yet: it commits after the output (attempt.ts), and is still running.
  const stillRunning = crashed ? `AND a.state IS DISTINCT FROM '${AttemptState.Running}'` : "";
  await bad(
    "attempts-match-cells",
    `SELECT o.run_id, o.cell, o.try_number, a.state FROM outputs o LEFT JOIN attempts a USING (run_id, cell, try_number)
     WHERE a.state IS DISTINCT FROM (CASE WHEN o.cached_from IS NULL THEN '${AttemptState.Success}' ELSE '${AttemptState.Cached}' END) ${stillRunning}`,
    (r) => `${tryOf(r)}: has an output, but its attempt is ${r.state ?? "missing"}`,
  );
  await bad(
    "attempts-match-cells",
    `SELECT a.run_id, a.cell, a.try_number, a.state FROM attempts a LEFT JOIN outputs o USING (run_id, cell, try_number)
     WHERE a.state IN ('${AttemptState.Success}', '${AttemptState.Cached}') AND o.run_id IS NULL`,
    (r) => `${tryOf(r)}: attempt ${r.state}, but no output of that try`,
  );
  await bad("attempts-match-cells", `SELECT a.run_id, a.cell, a.try_number FROM attempts a ANTI JOIN runs r USING (run_id)`, (r) => `${tryOf(r)}: its run does not exist`);
  await bad("costs-match-attempts", `SELECT c.run_id, c.cell, c.try_number, c.resource FROM costs c ANTI JOIN attempts a USING (run_id, cell, try_number)`, (r) =>
    `${tryOf(r)}: a ${r.resource} cost, but no such attempt`);
  // Run-level lines (an alert that failed) have no cell.
  await bad(
    "logs-match-attempts",
    `SELECT l.run_id, l.cell, l.try_number, count(*) AS n FROM logs l ANTI JOIN attempts a USING (run_id, cell, try_number) WHERE l.cell <> '' GROUP BY ALL`,
    (r) => `${tryOf(r)}: ${r.n} log lines, but no such attempt`,
  );
}

// ---- Reading the file -----------------------------------------------------------------------------------------

/** Opens the file read-only in a DuckDB instance of its own, runs `body`, and closes it. */
async function withStore<T>(dbPath: string, body: (conn: DuckDBConnection) => Promise<T>, empty: () => T): Promise<T> {
  let instance: DuckDBInstance;
  let conn: DuckDBConnection;
  try {
    // As Store.open does: no extension download just to open a file that is not DuckDB.
    instance = await DuckDBInstance.create(":memory:", { autoload_known_extensions: "false", autoinstall_known_extensions: "false" });
    conn = await instance.connect();
  } catch (err) {
    throw new StoreUnreadable(`database ${dbPath}: cannot be opened for checking: ${errorLine(err)}`);
  }
  try {
    try {
      await conn.run(`ATTACH '${dbPath.replaceAll("'", "''")}' AS checked (READ_ONLY)`);
      await conn.run("USE checked");
    } catch (err) {
      throw new StoreUnreadable(`database ${dbPath}: cannot be opened for checking: ${errorLine(err)}`);
    }
    const [{ n, meta }] = await rows(
      conn,
      `SELECT count(*) AS n, count(*) FILTER (WHERE table_name = 'cellar_meta') AS meta FROM information_schema.tables WHERE table_catalog = 'checked'`,
    );
    // A process killed while it created the store leaves a file with no tables yet (each migration is one
    // transaction): an empty store, which Store.open migrates like a new one.
    if (Number(n) === 0) return empty();
    if (Number(meta) === 0) throw new StoreUnreadable(`database ${dbPath}: cannot be opened for checking: a DuckDB file, but not a Cellar store (no cellar_meta)`);
    return await body(conn);
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

async function rows(conn: DuckDBConnection, sql: string, values: string[] = []): Promise<Row[]> {
  const reader = await conn.runAndReadAll(sql, values);
  return reader.getRowObjectsJS().map((row) =>
    Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === "bigint" ? (Number.isSafeInteger(Number(v)) ? Number(v) : String(v)) : v]))
  );
}

/** The views cells' tables are read through: `"<pipeline>"."<name>"` (kernel/tables.ts). */
async function pipelineViews(conn: DuckDBConnection): Promise<Array<{ schema: string; name: string; sql: string }>> {
  const views = await rows(
    conn,
    `SELECT schema_name, view_name, sql FROM duckdb_views() WHERE database_name = 'checked' AND NOT internal
     AND schema_name NOT IN ('main', 'cellar_triggers') ORDER BY ALL`,
  );
  return views.map((v) => ({ schema: String(v.schema_name), name: String(v.view_name), sql: String(v.sql) }));
}

/** Every version of every cell table: `"<pipeline>"."<name>@<run>"`. */
async function cellTables(conn: DuckDBConnection): Promise<Array<{ schema: string; name: string }>> {
  const tables = await rows(
    conn,
    `SELECT table_schema, table_name FROM information_schema.tables
     WHERE table_catalog = 'checked' AND table_type = 'BASE TABLE' AND table_name LIKE '%@%' ORDER BY ALL`,
  );
  return tables.map((t) => ({ schema: String(t.table_schema), name: String(t.table_name) }));
}

function tableRefs(value: unknown, into: Ref[] = []): Ref[] {
  if (Array.isArray(value)) for (const item of value) tableRefs(item, into);
  else if (typeof value === "object" && value !== null) {
    const ref = value as Ref;
    if (typeof ref.$table === "string" && typeof ref.sql === "string") into.push(ref);
    else for (const item of Object.values(value)) tableRefs(item, into);
  }
  return into;
}

/** `"schema"."name"` (as tables.ts quotes them, or as DuckDB prints a view) → its parts. */
function parseTableSql(sql: string): { schema: string; name: string } | undefined {
  const part = String.raw`("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_]*)`;
  const match = new RegExp(`^${part}\\.${part}$`).exec(sql);
  if (!match) return undefined;
  const unquote = (p: string) => (p.startsWith('"') ? p.slice(1, -1).replaceAll('""', '"') : p);
  return { schema: unquote(match[1]), name: unquote(match[2]) };
}

function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** JSON with sorted keys, table references reduced to their name and row count, and timing keys dropped (see tableHashes). */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  if (typeof value !== "object" || value === null) return JSON.stringify(value);
  const ref = value as Ref;
  if (typeof ref.$table === "string" && typeof ref.sql === "string") return JSON.stringify({ $table: ref.$table, rows: ref.rows });
  const keys = Object.keys(value).filter((k) => !TIMING.test(k)).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`).join(",")}}`;
}
