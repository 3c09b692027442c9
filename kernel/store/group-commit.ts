import type { DuckDBConnection, DuckDBValue } from "@duckdb/node-api";
import type { AttemptState, RunState } from "../state.ts";

/**
 * Group commit. Cells hand their state changes to the writer and await the
 * returned promise, which settles once a transaction holding the change is
 * durable. While one transaction commits, later changes gather and go in the
 * next: a committed file transaction costs ~2 ms here, so one per cell would
 * cap a pipeline at a few hundred cells a second.
 *
 * @example
 * ```ts
 * import type { AttemptRecord, GroupWriter } from "./group-commit.ts";
 * declare const writer: GroupWriter;
 * declare const attempt: AttemptRecord;
 *
 * await writer.write({ attempts: [attempt] }); // durable from here on
 * ```
 */
export class GroupWriter {
  #queue: Array<{ change: Change; resolve: () => void; reject: (err: unknown) => void }> = [];
  #flushing: Promise<void> | undefined;
  #logSeq: number;

  /**
   * `lastLogSeq`: the highest `seq` in the logs table, which the next log line follows. `refusal` turns a
   * failed commit's error into the store's one line when it is damage (Store.refusal).
   */
  constructor(private readonly conn: DuckDBConnection, lastLogSeq = 0, private readonly refusal: (err: unknown) => unknown = (err) => err) {
    this.#logSeq = lastLogSeq;
  }

  /**
   * The next log line's place among the store's lines (logs.seq): numbered as made, before the line is
   * durable, so that its live event can carry the cursor a page of the log is read by (run-logs.ts). One
   * process writes the store, so a counter here is the sequence.
   */
  nextLogSeq(): number {
    return ++this.#logSeq;
  }

  write(change: Change): Promise<void> {
    // The lists as they are now: a caller reusing its arrays must not change what is written.
    const copy: Change = {
      attempts: change.attempts?.slice(), runStates: change.runStates?.slice(), outputs: change.outputs?.slice(),
      logs: change.logs?.map((l) => (l.seq === undefined ? { ...l, seq: this.nextLogSeq() } : l)), costs: change.costs?.slice(), reasons: change.reasons?.slice(),
    };
    const done = new Promise<void>((resolve, reject) => this.#queue.push({ change: copy, resolve, reject }));
    this.#kick();
    return done;
  }

  /** Resolves when everything written so far is durable. */
  async drain(): Promise<void> {
    while (this.#flushing) await this.#flushing.catch(() => {});
  }

  /** Drains, then closes the writer's connection: the database stays open (and locked) while any connection is. */
  async close(): Promise<void> {
    await this.drain();
    this.conn.closeSync();
  }

  #kick(): void {
    if (this.#flushing) return;
    this.#flushing = (async () => {
      // Yield once so that changes made in the same turn share the transaction.
      await Promise.resolve();
      while (this.#queue.length > 0) {
        const entries = this.#queue;
        this.#queue = [];
        try {
          await this.#commit(toBatch(entries.map((e) => e.change)));
          for (const e of entries) e.resolve();
        } catch (err) {
          if (entries.length === 1) {
            entries[0].reject(err);
            continue;
          }
          // One bad change must not fail the others that shared its transaction:
          // redo them one by one, in order, so only the culprit's waiter sees the error.
          for (const e of entries) {
            try {
              await this.#commit(toBatch([e.change]));
              e.resolve();
            } catch (err) {
              e.reject(err);
            }
          }
        }
      }
      this.#flushing = undefined;
    })();
  }

  async #commit(batch: Batch): Promise<void> {
    const statements = toStatements(batch);
    if (statements.length === 0) return;
    await this.conn.run("BEGIN TRANSACTION");
    try {
      for (const [sql, values] of statements) await this.conn.run(sql, values);
      await this.conn.run("COMMIT");
    } catch (err) {
      await this.conn.run("ROLLBACK").catch(() => {});
      throw this.refusal(err);
    }
  }
}

export interface AttemptRecord {
  runId: number;
  cell: string;
  tryNumber: number;
  state: AttemptState;
  startedAt?: Date;
  endedAt?: Date;
  wallMs?: number;
  cpuMs?: number;
  error?: string;
  /** JSON of a failed check's details (check-details.ts), kept in check_details beside the attempt. */
  checkDetails?: string;
}

export interface OutputRecord {
  runId: number;
  cell: string;
  pipeline: string;
  tryNumber: number;
  cacheKey: string;
  output: string;
  outputHash: string;
  /** JSON of what the cell read from its run: `{ params: { name: value }, interval?: "start/end" }`. */
  reads: string;
  cachedFrom?: number;
}

/** Why a cell of a run was served from cache or recomputed, and what its cache key was made of. */
export interface ReasonRecord {
  runId: number;
  cell: string;
  reason: string;
  detail: string | null;
  codeVersion: string;
  /** JSON: [[upstream cell, output hash or null], …]. */
  upstream: string;
}

export interface RunStateChange {
  state?: RunState;
  startedAt?: Date;
  endedAt?: Date | null;
}

export interface LogRecord {
  /** Numbered by write() when absent (GroupWriter.nextLogSeq). */
  seq?: number;
  runId: number;
  cell: string;
  tryNumber: number;
  ts: Date;
  level: string;
  message: string;
}

export interface CostRecord {
  runId: number;
  cell: string;
  tryNumber: number;
  resource: string;
  amount: number;
}

/** State changes to make durable together. */
export interface Change {
  attempts?: AttemptRecord[];
  runStates?: Array<[number, RunStateChange]>;
  outputs?: OutputRecord[];
  logs?: LogRecord[];
  costs?: CostRecord[];
  reasons?: ReasonRecord[];
}

interface Batch {
  attempts: Map<string, AttemptRecord>;
  runStates: Map<number, RunStateChange>;
  outputs: OutputRecord[];
  logs: LogRecord[];
  costs: CostRecord[];
  /** By run and cell: a resumed run's later decision replaces the earlier one. */
  reasons: Map<string, ReasonRecord>;
}

type Statement = [string, DuckDBValue[]];

/**
 * The statements that make `change` durable, for a transaction that is not the writer's: a cell that writes
 * tables commits its output in its own, and its attempt and costs must commit there too. Written by the
 * writer after it, a crash in between left a checkpoint whose try was still running (marked interrupted at the next open).
 */
export function changeStatements(change: Change): Statement[] {
  return toStatements(toBatch([change]));
}

/**
 * Changes merged into one batch, with the effect of applying them in order:
 * a later record of the same attempt replaces the earlier one, except that it
 * keeps the earlier start time (as the upsert's coalesce does across batches).
 */
function toBatch(changes: Change[]): Batch {
  const batch: Batch = { attempts: new Map(), runStates: new Map(), outputs: [], logs: [], costs: [], reasons: new Map() };
  for (const change of changes) {
    for (const attempt of change.attempts ?? []) {
      const key = attemptKey(attempt);
      const startedAt = attempt.startedAt ?? batch.attempts.get(key)?.startedAt;
      batch.attempts.set(key, startedAt === undefined ? attempt : { ...attempt, startedAt });
    }
    for (const [runId, state] of change.runStates ?? []) {
      batch.runStates.set(runId, { ...batch.runStates.get(runId), ...state });
    }
    if (change.outputs) batch.outputs.push(...change.outputs);
    if (change.logs) batch.logs.push(...change.logs);
    if (change.costs) batch.costs.push(...change.costs);
    for (const r of change.reasons ?? []) batch.reasons.set(`${r.runId}\u0000${r.cell}`, r);
  }
  return batch;
}

function attemptKey(a: AttemptRecord): string {
  return `${a.runId}\u0000${a.cell}\u0000${a.tryNumber}`;
}

/** Timestamps travel as ISO strings and are cast by DuckDB; null stays null. */
function ts(date: Date | null | undefined): string | null {
  return date ? date.toISOString() : null;
}

/** One multi-row statement per table, whatever the number of rows. */
function toStatements(batch: Batch): Statement[] {
  const statements: Statement[] = [];
  if (batch.attempts.size > 0) {
    const rows = [...batch.attempts.values()];
    statements.push([
      `INSERT INTO attempts VALUES ${placeholders(rows.length, 9, [4, 5])}
       ON CONFLICT (run_id, cell, try_number) DO UPDATE SET
         state = excluded.state, started_at = coalesce(excluded.started_at, attempts.started_at),
         ended_at = excluded.ended_at, wall_ms = excluded.wall_ms, cpu_ms = excluded.cpu_ms, error = excluded.error`,
      rows.flatMap((a) => [
        a.runId, a.cell, a.tryNumber, a.state, ts(a.startedAt), ts(a.endedAt),
        a.wallMs ?? null, a.cpuMs ?? null, a.error ?? null,
      ]),
    ]);
  }
  const checked = [...batch.attempts.values()].filter((a) => a.checkDetails !== undefined);
  if (checked.length > 0) {
    statements.push([
      `INSERT OR REPLACE INTO check_details VALUES ${placeholders(checked.length, 4, [])}`,
      checked.flatMap((a) => [a.runId, a.cell, a.tryNumber, a.checkDetails!]),
    ]);
  }
  if (batch.outputs.length > 0) {
    statements.push([
      `INSERT INTO outputs VALUES ${placeholders(batch.outputs.length, 10, [9])}`,
      batch.outputs.flatMap((o) => [
        o.runId, o.cell, o.pipeline, o.tryNumber, o.cacheKey, o.output, o.outputHash,
        o.reads, o.cachedFrom ?? null, new Date().toISOString(),
      ]),
    ]);
  }
  for (const [runId, change] of batch.runStates) {
    const sets: string[] = [];
    const values: DuckDBValue[] = [];
    if (change.state !== undefined) sets.push("state = ?"), values.push(change.state);
    if (change.startedAt !== undefined) sets.push("started_at = ?::TIMESTAMPTZ"), values.push(ts(change.startedAt));
    if (change.endedAt !== undefined) sets.push("ended_at = ?::TIMESTAMPTZ"), values.push(ts(change.endedAt));
    if (sets.length > 0) statements.push([`UPDATE runs SET ${sets.join(", ")} WHERE run_id = ?`, [...values, runId]]);
  }
  if (batch.logs.length > 0) {
    statements.push([
      `INSERT INTO logs (run_id, cell, try_number, ts, level, message, seq) VALUES ${placeholders(batch.logs.length, 7, [3])}`,
      batch.logs.flatMap((l) => [l.runId, l.cell, l.tryNumber, ts(l.ts), l.level, l.message, l.seq!]),
    ]);
  }
  if (batch.costs.length > 0) {
    statements.push([
      `INSERT INTO costs VALUES ${placeholders(batch.costs.length, 5, [])}`,
      batch.costs.flatMap((c) => [c.runId, c.cell, c.tryNumber, c.resource, c.amount]),
    ]);
  }
  if (batch.reasons.size > 0) {
    const rows = [...batch.reasons.values()];
    statements.push([
      `INSERT OR REPLACE INTO cell_reasons VALUES ${placeholders(rows.length, 6, [])}`,
      rows.flatMap((r) => [r.runId, r.cell, r.reason, r.detail, r.codeVersion, r.upstream]),
    ]);
  }
  return statements;
}

/** "(?, ?::TIMESTAMPTZ, ?), (...)" for `rows` rows of `width` values; `timestamps` are column indexes cast. */
function placeholders(rows: number, width: number, timestamps: number[]): string {
  const row = `(${Array.from({ length: width }, (_, i) => (timestamps.includes(i) ? "?::TIMESTAMPTZ" : "?")).join(", ")})`;
  return Array.from({ length: rows }, () => row).join(", ");
}
