/**
 * Kills the shipped pipelines at seeded random moments and resumes them: the
 * CLI (`cellar run ingest`, then `cellar run eval`) as real child processes
 * under tsx, SIGKILLed at times drawn over each phase's measured duration,
 * the store checked against the invariants (invariants.ts) after every kill
 * and every resume, and the final tables compared with a run that was never
 * interrupted. A seed replays the same kill times (not the same instants:
 * the machine's speed decides what a process has done by then).
 *
 * @example
 * ```ts
 * import { killChain, makeSlice, referenceRun } from "./kill-harness.ts";
 *
 * const slice = makeSlice("/tmp/slice", { docs: 40, queries: 10 });
 * const reference = await referenceRun(slice); // durations and table hashes of an uninterrupted run
 * const chain = await killChain(slice, reference, { seed: 7, killsPerPhase: 6 });
 * chain.violations; // → [] when every invariant held at every kill
 * ```
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RunState } from "../../kernel/state.ts";
import { rng } from "../random.ts";
import { ROOT, tempDir, TSX } from "../helpers.ts";
import { checkInvariants, committedSnapshot, latestRunState, type Snapshot, tableHashes, type Violation } from "./invariants.ts";

const CRANFIELD = join(ROOT, "pipelines/data/cranfield");

/** The files a slice of the bundled Cranfield corpus is made of, and the CLI arguments of its two phases. */
export interface Slice {
  dir: string;
  /** Each phase runs one pipeline, named after it. */
  phases: Array<{ name: string; args: string[] }>;
}

/** The first `docs` Cranfield documents, and the first `queries` questions judged against them with only those judgments. */
export function makeSlice(dir: string, size: { docs: number; queries: number }): Slice {
  const docs = readFileSync(join(CRANFIELD, "docs.jsonl"), "utf8").trim().split("\n").slice(0, size.docs);
  const ids = new Set(docs.map((line) => String(JSON.parse(line).id)));
  const judged = readFileSync(join(CRANFIELD, "qrels.trec"), "utf8").trim().split("\n").map((l) => l.trim().split(/\s+/))
    .filter((f) => ids.has(f[2]));
  const qids = [...new Set(judged.map((f) => f[0]))].slice(0, size.queries);
  const wanted = new Set(qids);
  const queries = readFileSync(join(CRANFIELD, "queries.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l))
    .filter((q) => wanted.has(String(q.id))).map((q) => JSON.stringify({ id: q.id, text: q.text }));
  writeFileSync(join(dir, "docs.jsonl"), docs.join("\n") + "\n");
  writeFileSync(join(dir, "qrels.trec"), judged.filter((f) => wanted.has(f[0])).map((f) => f.join(" ")).join("\n") + "\n");
  writeFileSync(join(dir, "queries.jsonl"), queries.join("\n") + "\n");
  return {
    dir,
    phases: [
      { name: "ingest", args: ["run", "ingest", "--param", `seeds=${join(dir, "docs.jsonl")}`] },
      {
        name: "eval",
        args: [
          "run", "eval", "--param", `queries=${join(dir, "queries.jsonl")}`, "--param", `qrels=${join(dir, "qrels.trec")}`,
          "--param", "baseline=none", "--param", "judgeTop=2",
        ],
      },
    ],
  };
}

/** One CLI process: how it ended, and whether we killed it. */
export interface Exit {
  killed: boolean;
  code: number | null;
  ms: number;
  stderr: string;
}

/** `cellar --db <db> <args>`, SIGKILLed after `killAfterMs` unless it ended first. */
export function cellar(db: string, args: string[], killAfterMs?: number): Promise<Exit> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, ["--import", TSX, join(ROOT, "kernel/cli.ts"), "--db", db, ...args], {
      cwd: ROOT,
      env: { ...process.env, CELLAR_DEVICES: "cpu", NO_COLOR: "1" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    let killed = false;
    child.stderr.on("data", (d) => (stderr = (stderr + d).slice(-4000)));
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => {
      killed = child.kill("SIGKILL");
    }, killAfterMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ killed: killed && signal === "SIGKILL", code, ms: performance.now() - t0, stderr });
    });
  });
}

/** An uninterrupted run of the slice: each phase's duration (where kills are drawn from) and the final table hashes. */
export interface Reference {
  db: string;
  phaseMs: number[];
  hashes: Map<string, string>;
}

export async function referenceRun(slice: Slice): Promise<Reference> {
  const db = join(tempDir("cellar-kill-ref-"), "db.duckdb");
  const phaseMs: number[] = [];
  for (const phase of slice.phases) {
    const exit = await cellar(db, phase.args);
    if (exit.code !== 0) throw new Error(`reference ${phase.name} exited ${exit.code}: ${exit.stderr.trim().split("\n").at(-1)}`);
    phaseMs.push(exit.ms);
  }
  const violations = await checkInvariants(db);
  if (violations.length > 0) throw new Error(`reference run broke invariants: ${JSON.stringify(violations)}`);
  return { db, phaseMs, hashes: await tableHashes(db) };
}

/** One kill: when (ms after the process started), in which phase, and whether it landed before the process ended. */
export interface KillPoint {
  phase: string;
  atMs: number;
  landed: boolean;
  /** It landed after the phase's run had committed its success, while the process was closing. */
  afterRunEnd?: boolean;
}

export interface ChainResult {
  seed: number;
  db: string;
  kills: KillPoint[];
  /** Each violation with the kill (or resume) after which it was found. */
  violations: Array<Violation & { after: string }>;
  /** Tables that differ from the reference's at the end: `name: got ≠ expected`. */
  differences: string[];
  ms: number;
}

/**
 * A fresh store taken through every phase: each phase is started up to
 * `killsPerPhase` times (one count for all, or one per phase) and killed at a
 * time drawn uniformly over the reference's duration of that phase, then run
 * once more to its end.
 */
export async function killChain(slice: Slice, reference: Reference, options: { seed: number; killsPerPhase: number | number[]; log?: (line: string) => void }): Promise<ChainResult> {
  const t0 = performance.now();
  const random = rng(options.seed);
  const db = join(tempDir("cellar-kill-"), "db.duckdb");
  const result: ChainResult = { seed: options.seed, db, kills: [], violations: [], differences: [], ms: 0 };
  const note = (after: string, found: Violation[]) => result.violations.push(...found.map((v) => ({ ...v, after })));
  let committed: Snapshot | undefined;
  for (const [p, phase] of slice.phases.entries()) {
    const kills = typeof options.killsPerPhase === "number" ? options.killsPerPhase : options.killsPerPhase[p];
    // The phase's run ended: its process outlived its kill, or was killed after the run committed its success.
    let ended = false;
    for (let k = 0; k < kills && !ended; k++) {
      const atMs = Math.round(random() * reference.phaseMs[p]);
      const exit = await cellar(db, phase.args, atMs);
      result.kills.push({ phase: phase.name, atMs, landed: exit.killed });
      options.log?.(`seed ${options.seed}: ${phase.name} ${exit.killed ? `killed at ${atMs} ms` : `ended in ${Math.round(exit.ms)} ms before its kill at ${atMs}`}`);
      if (!exit.killed) {
        if (exit.code !== 0) throw new Error(`seed ${options.seed}: ${phase.name} (after ${k} kills) exited ${exit.code}: ${exit.stderr.trim().split("\n").at(-1)}`);
        ended = true;
        break;
      }
      const after = `${phase.name} killed at ${atMs} ms (kill ${result.kills.length})`;
      // Killed before it created the store file: nothing can have been committed, or lost.
      if (!existsSync(db) && committed === undefined) continue;
      note(after, await checkInvariants(db, { committed, crashed: true }));
      committed = await committedSnapshot(db);
      // Killed while it closed the store after its run succeeded: `cellar run` would now start a second run
      // (a manual trigger is a new run), not resume this one, so the phase is over.
      if (await latestRunState(db, phase.name) === RunState.Success) {
        result.kills[result.kills.length - 1].afterRunEnd = true;
        ended = true;
      }
    }
    if (!ended) {
      const exit = await cellar(db, phase.args);
      if (exit.code !== 0) throw new Error(`seed ${options.seed}: ${phase.name} resumed to the end exited ${exit.code}: ${exit.stderr.trim().split("\n").at(-1)}`);
    }
    note(`${phase.name} resumed to its end`, await checkInvariants(db, { committed }));
    committed = await committedSnapshot(db);
  }
  const got = await tableHashes(db);
  for (const key of new Set([...got.keys(), ...reference.hashes.keys()])) {
    if (got.get(key) !== reference.hashes.get(key)) result.differences.push(`${key}: ${got.get(key)} ≠ ${reference.hashes.get(key)}`);
  }
  result.ms = performance.now() - t0;
  return result;
}

/**
 * A chain's kills in one line, for a failure message: phase@ms, `*` where the process ended before its kill,
 * `+` where it was killed after its run had succeeded.
 */
export function describeKills(kills: KillPoint[]): string {
  return kills.map((k) => `${k.phase}@${k.atMs}${k.landed ? "" : "*"}${k.afterRunEnd ? "+" : ""}`).join(" ");
}
