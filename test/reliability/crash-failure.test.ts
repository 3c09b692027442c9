// A run killed with SIGKILL and resumed whose cell then fails its check (issue 14, item 6: runner.ts's failure
// paths no other crash test reaches): the resumed run is the same run, its failing cell is failed with its
// check's details kept, the cell after it is upstream_failed without running, the run is failed, and the
// deployment's webhook (CELLAR_ALERT_WEBHOOK, a real HTTP server on 127.0.0.1) hears of it exactly once, naming
// the failed cell. A webhook that answers an error is said in the run's output, in one line naming it.
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { AttemptState, RunState } from "../../kernel/state.ts";
import { Store } from "../../kernel/store/store.ts";
import { cli, ROOT, tempDir, TSX } from "../helpers.ts";

const FIXTURE = join(ROOT, "test/fixtures/crash-fail.ts");
const alerts: Array<{ event: string; runId: number; failedCells: Array<{ cell: string; error: string }> }> = [];
const hook = createServer((req, res) => {
  let body = "";
  req.on("data", (chunk) => (body += chunk));
  req.on("end", () => {
    alerts.push(JSON.parse(body));
    res.statusCode = req.url === "/down" ? 503 : 200;
    res.end("ok");
  });
});
let webhook = "";
let down = "";

beforeAll(async () => {
  await new Promise<void>((resolve) => hook.listen(0, "127.0.0.1", resolve));
  webhook = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/alert`;
  down = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/down`;
});
afterAll(() => void hook.close());

/** `cellar run` of the fixture, SIGKILLed at its first `slow step` line; resolves with the signal it ended by. */
function runAndKill(db: string, hookUrl: string): Promise<string | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", TSX, join(ROOT, "kernel/cli.ts"), "--db", db, "run", FIXTURE], {
      cwd: ROOT,
      env: { ...process.env, CELLAR_ALERT_WEBHOOK: hookUrl },
    });
    let stderr = "";
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
      if (stderr.includes("slow step 1")) child.kill("SIGKILL");
    });
    child.on("close", (_code, signal) => resolve(signal));
  });
}

it("fails a resumed run's failing cell, skips the cell after it, and alerts once", async () => {
  const db = join(tempDir(), "db.duckdb");
  expect(await runAndKill(db, webhook)).toBe("SIGKILL");
  expect(alerts).toEqual([]);
  const resumed = await cli(["--db", db, "run", FIXTURE], { env: { CELLAR_ALERT_WEBHOOK: webhook } });
  expect(resumed.code, resumed.stderr).not.toBe(0);
  expect(resumed.stderr).toMatch(/bad input 1/);
  const store = await Store.open(db);
  try {
    const runs = await store.query("SELECT run_id, state FROM runs ORDER BY run_id");
    expect(runs.map((r) => [Number(r.run_id), r.state]), "the killed run was resumed, not replaced").toEqual([[1, RunState.Failed]]);
    const attempts = await store.query("SELECT cell, max_by(state, try_number) AS state FROM attempts WHERE run_id = 1 GROUP BY cell ORDER BY cell");
    expect(Object.fromEntries(attempts.map((a) => [a.cell, a.state]))).toEqual({
      after: AttemptState.UpstreamFailed,
      bad: AttemptState.Failed,
      seed: AttemptState.Success,
      slow: AttemptState.Success,
    });
    // The failed check's measurement is kept with its try, as `cellar show` and the UI read it.
    const details = await store.query("SELECT cell, try_number, details FROM check_details WHERE run_id = 1");
    expect(details.map((d) => [d.cell, Number(d.try_number), JSON.parse(String(d.details))])).toEqual([["bad", 1, { n: 1, limit: 0 }]]);
  } finally {
    await store.close();
  }
  expect(alerts.length).toBe(1);
  expect(alerts[0].event).toBe("run_failed");
  expect(alerts[0].runId).toBe(1);
  expect(alerts[0].failedCells.map((c) => c.cell)).toEqual(["bad"]);
  expect(alerts[0].failedCells[0].error).toMatch(/bad input 1/);
}, 120_000);

it("says, in one line, that the webhook refused the alert of a resumed run that failed", async () => {
  const db = join(tempDir(), "db.duckdb");
  const before = alerts.length;
  expect(await runAndKill(db, down)).toBe("SIGKILL");
  const resumed = await cli(["--db", db, "run", FIXTURE], { env: { CELLAR_ALERT_WEBHOOK: down } });
  expect(resumed.code, resumed.stderr).not.toBe(0);
  expect(alerts.length).toBe(before + 1);
  // The run's own log line, as the CLI prints the run's events.
  expect(resumed.stderr.split("\n").filter((l) => l.includes("alert:"))).toEqual([expect.stringMatching(new RegExp(`alert: webhook ${down} answered HTTP 503$`))]);
}, 120_000);
