// kernel/state.ts is the one home of run, cell and attempt states: each is documented there, the runner moves
// between them only as its transition tables allow, and no other kernel file spells a state as a literal.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { pipeline, type Pipeline } from "../kernel/mod.ts";
import { Runner, type RunEvent } from "../kernel/runner.ts";
import { createManualRun, getRun, markInterrupted, type RunRecord } from "../kernel/run-records.ts";
import { Scheduler } from "../kernel/scheduler.ts";
import * as state from "../kernel/state.ts";
import {
  ATTEMPT_TRANSITIONS,
  AttemptState,
  CELL_TRANSITIONS,
  CellState,
  ENDED_CELL_STATES,
  INITIAL_ATTEMPT_STATES,
  INITIAL_CELL_STATES,
  INITIAL_RUN_STATES,
  RUN_TRANSITIONS,
  RunState,
  TriggerResult,
  type Transitions,
} from "../kernel/state.ts";
import type { Store } from "../kernel/store/store.ts";
import { ROOT, storesClosedAfterEach } from "./helpers.ts";

const STATE_FILE = join(ROOT, "kernel/state.ts");
const STATE_OBJECTS = { RunState, CellState, AttemptState, TriggerResult } as const;

const store = storesClosedAfterEach();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("kernel/state.ts", () => {
  it("documents every state with a comment of its own", () => {
    const text = readFileSync(STATE_FILE, "utf8");
    for (const [name, object] of Object.entries(STATE_OBJECTS)) {
      const body = text.match(new RegExp(`export const ${name} = \\{\\n([\\s\\S]*?)\\n\\} as const;`))?.[1];
      expect(body, `export const ${name} = { … } as const`).toBeDefined();
      const lines = body!.split("\n");
      const documented: string[] = [];
      const undocumented: string[] = [];
      for (const [i, line] of lines.entries()) {
        const key = line.match(/^\s+(\w+):/)?.[1];
        if (!key) continue;
        const previous = lines[i - 1]?.trim() ?? "";
        (previous.startsWith("/**") && previous.endsWith("*/") && previous.length > 8 ? documented : undocumented).push(key);
      }
      expect(undocumented, `${name}: states without a /** … */ comment on the line above`).toEqual([]);
      expect(documented.sort(), `${name}: the states the file text was parsed into`).toEqual(Object.keys(object).sort());
    }
  });

  it("has a transition row for every state, naming only known states, and no way out of an ended cell", () => {
    const rows: Array<[Transitions<string>, Record<string, string>]> = [
      [RUN_TRANSITIONS, RunState],
      [CELL_TRANSITIONS, CellState],
      [ATTEMPT_TRANSITIONS, AttemptState],
    ];
    for (const [table, states] of rows) {
      const values = Object.values(states);
      expect(Object.keys(table).sort()).toEqual([...values].sort());
      for (const next of Object.values(table)) for (const to of next) expect(values).toContain(to);
    }
    const ended = Object.entries(CELL_TRANSITIONS).filter(([, next]) => next.length === 0).map(([from]) => from);
    expect(ended.sort()).toEqual([...ENDED_CELL_STATES].sort());
  });

  it("keeps the strings the store holds and the CLI prints", () => {
    expect(Object.values(RunState)).toEqual(["queued", "running", "success", "failed", "interrupted"]);
    expect(Object.values(CellState)).toEqual(
      ["waiting", "running", "up_for_retry", "success", "cached", "failed", "upstream_failed", "cancelled"],
    );
    expect(Object.values(AttemptState).sort()).toEqual(
      ["cached", "cancelled", "failed", "interrupted", "running", "success", "upstream_failed"],
    );
    expect(Object.values(TriggerResult)).toEqual(["fired", "not_met", "failed", "already_fired"]);
    expect(state.sqlStates([RunState.Queued, RunState.Interrupted])).toBe("'queued', 'interrupted'");
  });
});

describe("no state literal outside kernel/state.ts", () => {
  /**
   * Quoted strings that are not states but read like one: none today. Each entry needs its reason.
   * Format: "kernel/path.ts: the exact quoted text".
   */
  const ALLOWED = new Set<string>([]);

  it("finds every state of kernel/state.ts only as a reference in the other kernel files", () => {
    const names = [...new Set(Object.values(STATE_OBJECTS).flatMap((o) => Object.values(o) as string[]))];
    const literal = new RegExp(`(["'\`])(${names.join("|")})\\1`, "g");
    const found: string[] = [];
    for (const file of kernelFiles(join(ROOT, "kernel"))) {
      const path = relative(ROOT, file);
      if (path === "kernel/state.ts") continue;
      for (const [i, line] of readFileSync(file, "utf8").split("\n").entries()) {
        for (const match of line.matchAll(literal)) {
          if (!ALLOWED.has(`${path}: ${match[0]}`)) found.push(`${path}:${i + 1}: ${match[0]}  ${line.trim()}`);
        }
      }
    }
    expect(found, "state literals; use RunState, CellState, AttemptState or TriggerResult from kernel/state.ts").toEqual([]);
  });
});

function kernelFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return kernelFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

/** Each consecutive pair of `sequence` allowed by `table`; writing the state a thing is already in is no transition. */
function expectAllowed<S extends string>(table: Transitions<S>, sequence: S[], what: string): void {
  const moves = sequence.filter((s, i) => i === 0 || s !== sequence[i - 1]);
  const bad = moves.slice(1).map((to, i) => [moves[i], to] as const).filter(([from, to]) => !state.canTransition(table, from, to));
  expect(bad.map(([from, to]) => `${from} → ${to}`), `${what}: ${moves.join(" → ")}`).toEqual([]);
}

/** What runs went through, as their events, their results and their stored records show it. */
class Observer {
  readonly runs = new Map<number, RunState[]>();
  /** Per run and cell (`runId/cell`), each execution's cell states in order. */
  readonly cells = new Map<string, CellState[][]>();

  constructor(readonly s: Store, readonly runner: Runner) {
    runner.on((event: RunEvent) => {
      if (event.type === "run") this.#run(event.runId, event.state);
      if (event.type === "cell") this.#execution(`${event.runId}/${event.cell}`).push(event.state);
    });
  }

  #run(runId: number, s: RunState): void {
    this.runs.set(runId, [...(this.runs.get(runId) ?? []), s]);
  }

  #execution(key: string): CellState[] {
    const executions = this.cells.get(key) ?? [[]];
    this.cells.set(key, executions);
    return executions.at(-1)!;
  }

  /** Notes the run's stored state (on creation, between executions, at the end). */
  async stored(runId: number): Promise<RunRecord> {
    const record = await getRun(this.s, runId);
    this.#run(runId, record.state);
    return record;
  }

  async create(p: Pipeline): Promise<RunRecord> {
    const date = new Date("2026-05-03T00:00:00Z");
    const record = await createManualRun(this.s, p.id, "manual", date, { start: date, end: date }, p.resolveParams({}), {});
    return await this.stored(record.runId);
  }

  /** Executes the run, then notes each cell's final state (a waiting cell is cancelled without an event). */
  async execute(p: Pipeline, run: RunRecord): Promise<void> {
    for (const { name } of p.cells) {
      const key = `${run.runId}/${name}`;
      if (this.cells.has(key)) this.cells.get(key)!.push([]);
    }
    const result = await this.runner.execute(p, run);
    for (const [cell, final] of result.cells) {
      const execution = this.#execution(`${run.runId}/${cell}`);
      if (execution.at(-1) !== final) execution.push(final);
    }
    await this.stored(run.runId);
  }

  /**
   * Every run starts in an initial state and moves as RUN_TRANSITIONS allows; every cell, in each execution, from its
   * initial state as CELL_TRANSITIONS allows; every stored attempt was written in an initial state or reached from running.
   */
  async check(): Promise<void> {
    for (const [runId, states] of this.runs) {
      expect(INITIAL_RUN_STATES as readonly string[], `run ${runId} created`).toContain(states[0]);
      expectAllowed(RUN_TRANSITIONS, states, `run ${runId}`);
      const attempts = await this.s.query(`SELECT cell, try_number, state FROM attempts WHERE run_id = ?`, [runId]);
      for (const a of attempts) {
        const s = String(a.state) as AttemptState;
        const reached = (INITIAL_ATTEMPT_STATES as readonly string[]).includes(s) ||
          state.canTransition(ATTEMPT_TRANSITIONS, AttemptState.Running, s);
        expect(reached, `run ${runId} ${a.cell} try ${a.try_number}: ${s}`).toBe(true);
      }
    }
    for (const [key, executions] of this.cells) {
      for (const [i, execution] of executions.entries()) {
        const what = `cell ${key}, execution ${i + 1}`;
        // A cell whose checkpoint the run keeps starts (and stays) success; any other starts waiting.
        if (execution.length === 1 && (INITIAL_CELL_STATES as readonly string[]).includes(execution[0])) continue;
        expectAllowed(CELL_TRANSITIONS, [CellState.Waiting, ...execution], what);
      }
    }
  }
}

describe("the runner's transitions obey the shared tables", () => {
  it("through retries, failures, upstream failures, cache hits, a cancelled run resumed and a failed run resumed", async () => {
    const s = await store();
    const runner = new Runner(s);
    const seen = new Observer(s, runner);

    // A flaky cell that succeeds on its second try, and one that fails for good with a dependent left upstream_failed.
    let flaky = 0;
    let broken = true;
    const p = pipeline({ id: "lifecycle" })
      .cell("flaky", { retries: 2, retryDelay: 5 }, () => {
        if (++flaky === 1) throw new Error("transient");
        return 1;
      })
      .cell("broken", { needs: ["flaky"], retryDelay: 5 }, (_ctx, x: number) => {
        if (broken) throw new Error("broken");
        return x + 1;
      })
      .cell("after", { needs: ["broken"] }, (_ctx, x: number) => x * 2);
    const failing = await seen.create(p);
    await seen.execute(p, failing);
    expect((await getRun(s, failing.runId)).state).toBe(RunState.Failed);
    expect(seen.cells.get(`${failing.runId}/flaky`)).toEqual([[CellState.Running, CellState.UpForRetry, CellState.Running, CellState.Success]]);
    expect(seen.cells.get(`${failing.runId}/after`)).toEqual([[CellState.UpstreamFailed]]);

    // `cellar resume` of the failed run: the kept checkpoint stays, the rest runs.
    broken = false;
    await seen.execute(p, await seen.stored(failing.runId));
    expect((await getRun(s, failing.runId)).state).toBe(RunState.Success);

    // A second run served from cache.
    const cachedRun = await seen.create(p);
    await seen.execute(p, cachedRun);
    expect(seen.cells.get(`${cachedRun.runId}/after`)).toEqual([[CellState.Cached]]);

    // A run cancelled while one cell runs and one waits, then resumed.
    let release = false;
    const slow = pipeline({ id: "cancelled" })
      .cell("first", () => 1)
      .cell("second", { retries: 1, retryDelay: 5 }, async (ctx) => {
        while (!release) {
          if (ctx.signal.aborted) throw ctx.signal.reason;
          await sleep(5);
        }
        return 2;
      })
      .cell("third", { needs: ["second"] }, () => 3);
    const cancelling = new Runner(s);
    const seenCancelled = new Observer(s, cancelling);
    cancelling.on((e) => {
      if (e.type === "cell" && e.cell === "second" && e.state === CellState.Running) setTimeout(() => cancelling.cancel(), 20);
    });
    const interrupted = await seenCancelled.create(slow);
    await seenCancelled.execute(slow, interrupted);
    expect((await getRun(s, interrupted.runId)).state).toBe(RunState.Interrupted);
    release = true;
    const resumer = new Runner(s);
    const seenResumed = new Observer(s, resumer);
    seenResumed.runs.set(interrupted.runId, [...seenCancelled.runs.get(interrupted.runId)!]);
    await seenResumed.execute(slow, await seenResumed.stored(interrupted.runId));
    expect((await getRun(s, interrupted.runId)).state).toBe(RunState.Success);
    expect(seenCancelled.cells.get(`${interrupted.runId}/second`)).toEqual([[CellState.Running, CellState.Cancelled]]);
    expect(seenCancelled.cells.get(`${interrupted.runId}/third`)).toEqual([[CellState.Cancelled]]);
    expect(seenResumed.cells.get(`${interrupted.runId}/second`)).toEqual([[CellState.Running, CellState.Success]]);

    await seen.check();
    await seenCancelled.check();
    await seenResumed.check();
  });

  it("through a run a dead process left running, marked interrupted at open and resumed", async () => {
    const s = await store();
    const runner = new Runner(s);
    const seen = new Observer(s, runner);
    const p = pipeline({ id: "crashed" }).cell("a", () => 1).cell("b", (_ctx, x: number) => x + 1);
    const run = await seen.create(p);
    // What a process that died during a's first try leaves behind, written as the runner writes it.
    await s.writer.write({
      runStates: [[run.runId, { state: RunState.Running, startedAt: new Date(), endedAt: null }]],
      attempts: [{ runId: run.runId, cell: "a", tryNumber: 1, state: AttemptState.Running, startedAt: new Date() }],
    });
    await seen.stored(run.runId);
    await markInterrupted(s);
    const [attempt] = await s.query(`SELECT state FROM attempts WHERE run_id = ?`, [run.runId]);
    expect(attempt.state).toBe(AttemptState.Interrupted);
    await seen.execute(p, await seen.stored(run.runId));
    expect(seen.runs.get(run.runId)).toEqual([
      RunState.Queued, RunState.Running, RunState.Interrupted, RunState.Running, RunState.Success, RunState.Success,
    ]);
    await seen.check();
  });

  it("through the scheduler's claim of a queued run", async () => {
    const s = await store();
    const claimed: RunState[] = [];
    class Recording extends Runner {
      override async execute(p: Pipeline, run: RunRecord) {
        claimed.push(run.state, (await getRun(s, run.runId)).state);
        return await super.execute(p, run);
      }
    }
    const runner = new Recording(s);
    const seen = new Observer(s, runner);
    const p = pipeline({ id: "daily", schedule: "@daily", startDate: "2026-05-01", catchup: true }).cell("a", () => 1);
    const scheduler = new Scheduler(s, runner, [p], () => new Date("2026-05-02T00:00:01Z"));
    await scheduler.runOnce();
    const [run] = [...seen.runs.keys()];
    expect(claimed).toEqual([RunState.Queued, RunState.Running]);
    seen.runs.set(run, [...claimed, ...seen.runs.get(run)!]);
    await seen.stored(run);
    expect(seen.runs.get(run)).toEqual([RunState.Queued, RunState.Running, RunState.Running, RunState.Success, RunState.Success]);
    await seen.check();
  });
});
