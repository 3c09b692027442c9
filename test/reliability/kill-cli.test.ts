// SIGKILL at seeded random moments of the shipped ingest and eval (kill-harness.ts), resumed by `cellar run`
// each time: after every kill and every resume the store keeps every invariant (invariants.ts), and the final
// tables are those of a run that was never interrupted.
//
// Quick form (in `npm test`): a 30-document slice, two chains of kills side by side, up to 5 kills per phase each.
// Long form (`npm run test:soak`, SOAK=long): a 100-document slice, rounds of two chains, each up to 30 kills in
// ingest and 40 in eval, until 100 kill points have landed (KILL_TARGET).
// KILL_SEED=<n> replays a seed's kill times; every failure message starts with it.
import { describe, expect, it } from "vitest";
import { tempDir } from "../helpers.ts";
import { type ChainResult, describeKills, killChain, makeSlice, referenceRun } from "./kill-harness.ts";

const LONG = process.env.SOAK === "long";
const SEED = process.env.KILL_SEED !== undefined ? Number(process.env.KILL_SEED) : Math.floor(Math.random() * 2 ** 31);
// Kills per phase, ingest's and eval's: ingest commits four cells, so a chain moves on from it after fewer kills
// than eval, whose one cell is killed until a process outlives its kill time.
// A process that outlives its kill time ends its phase, so how many kills land is not known beforehand: the long
// form starts rounds of chains until `target` kill points have landed (KILL_TARGET), at most 20 rounds.
const PLAN = LONG
  ? { docs: 100, queries: 25, target: Number(process.env.KILL_TARGET ?? 100), parallel: 2, killsPerPhase: [30, 40] }
  : { docs: 30, queries: 10, target: 0, parallel: 2, killsPerPhase: [5, 5] };

// The timeout is for a busy host (the quick form took 222 s at load ~25 on 2 cores); it is meant to fit 120 s on an idle one.
describe("SIGKILL at random moments of ingest and eval, resumed by cellar run", () => {
  it(`keeps every invariant and ends with the uninterrupted run's tables (KILL_SEED=${SEED})`, async () => {
    const t0 = performance.now();
    console.log(`kill-cli: KILL_SEED=${SEED} (${LONG ? "long" : "quick"} form)`);
    const slice = makeSlice(tempDir("cellar-kill-slice-"), PLAN);
    const reference = await referenceRun(slice);
    const chains: ChainResult[] = [];
    const landedSoFar = () => chains.reduce((n, c) => n + c.kills.filter((k) => k.landed).length, 0);
    for (let round = 0; round === 0 || (landedSoFar() < PLAN.target && round < 20); round++) {
      const seeds = Array.from({ length: PLAN.parallel }, (_, i) => SEED + round * PLAN.parallel + i);
      chains.push(...await Promise.all(seeds.map((seed) => killChain(slice, reference, { seed, killsPerPhase: PLAN.killsPerPhase }))));
    }
    for (const chain of chains) {
      const where = `KILL_SEED=${SEED} chain seed ${chain.seed}, kills ${describeKills(chain.kills)}, store ${chain.db}`;
      expect(chain.violations, where).toEqual([]);
      expect(chain.differences, where).toEqual([]);
    }
    const landed = chains.flatMap((c) => c.kills.filter((k) => k.landed));
    const byPhase: Record<string, typeof landed> = {};
    for (const k of landed) (byPhase[k.phase] ??= []).push(k);
    console.log(
      `kill-cli: KILL_SEED=${SEED}: ${landed.length} kill points survived (${Object.entries(byPhase).map(([p, k]) => `${p} ${k.length}`).join(", ")}) ` +
        `over ${chains.length} chains in ${((performance.now() - t0) / 1000).toFixed(1)} s; reference phases ${reference.phaseMs.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(", ")}`,
    );
    // The kills really spread over each phase: late ones as well as early ones, in both phases.
    for (const [p, phase] of ["ingest", "eval"].entries()) {
      const times = (byPhase[phase] ?? []).map((k) => k.atMs / reference.phaseMs[p]);
      expect(times.length, `KILL_SEED=${SEED}: kills that landed in ${phase}`).toBeGreaterThanOrEqual(2);
      expect(Math.max(...times), `KILL_SEED=${SEED}: the latest kill in ${phase}, as a fraction of its run`).toBeGreaterThan(0.4);
    }
  }, LONG ? 7_200_000 : 480_000);
});
