// Crash images (issue 14, item 2): while `cellar run` writes a store in a child process, copies of its files
// are taken at seeded random moments (crash-images.ts: one instant with the writer stopped, a torn or zeroed
// WAL tail, the database without its WAL, a zeroed page or a flipped bit, and copies taken file by file while
// the writer runs on). Each copy is opened as `cellar runs` opens a store (openCellar: Store.open, then the
// dead process's runs marked interrupted). It must then keep every invariant (invariants.ts), and a finished
// run's tables equal an uninterrupted run's; a subset is resumed with `cellar run` to the same tables. Or it
// is refused, in one line of Cellar's naming the file and what is wrong. A copy the power cut itself leaves
// (frozen, torn-wal, lost-wal) must open. A corrupted copy that opens must hold what its whole twin holds.
//
// Quick form (the normal suite): 24 images over two writers. Long form (`npm run test:soak`, SOAK=long):
// 240 over twenty. CRASH_SEED=<n> replays the kinds, moments and damage (not the writer's own timing).
import { spawn } from "node:child_process";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openCellar } from "../../kernel/cellar.ts";
import { isCellarError } from "../../kernel/errors.ts";
import { Store } from "../../kernel/store/store.ts";
import { cli, ROOT, tempDir, TSX } from "../helpers.ts";
import { rng } from "../random.ts";
import { describeFiles, IMAGE_KINDS, type Image, type ImageKind, takeImage } from "./crash-images.ts";
import { checkInvariants, tableHashes } from "./invariants.ts";

const LONG = process.env.SOAK === "long";
const SEED = process.env.CRASH_SEED !== undefined ? Number(process.env.CRASH_SEED) : Math.floor(Math.random() * 2 ** 31);
const WRITERS = LONG ? 20 : 2;
const PER_WRITER = 12;
const RESUMES = LONG ? 30 : 4;
const FIXTURE = join(ROOT, "test/fixtures/crash-images.ts");
/** The earlier run a "second run" writer's store already holds: other params, so every cell writes new versions. */
const EARLIER = ["--param", "rows=30000"];
/** Copies of these kinds are what a power cut (or a lost WAL) leaves: DuckDB promises to recover them. */
/** tableHashes' entry for the fixture's runs: how many, in which states. */
const RUNS = "runs crashimg";
const MUST_OPEN = new Set<ImageKind>(["frozen", "torn-wal", "lost-wal"]);

interface Writer {
  pid: number;
  /** Resolves at the run's first progress line: the store exists from here on. */
  begun: Promise<void>;
  done: Promise<{ code: number | null; stderr: string }>;
}

function startWriter(db: string): Writer {
  const child = spawn(process.execPath, ["--import", TSX, join(ROOT, "kernel/cli.ts"), "--db", db, "run", FIXTURE], { cwd: ROOT });
  let stderr = "";
  let begin!: () => void;
  const begun = new Promise<void>((resolve) => (begin = resolve));
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
    if (stderr.includes(": running")) begin();
  });
  const done = new Promise<{ code: number | null; stderr: string }>((resolve) =>
    child.on("close", (code) => {
      begin();
      resolve({ code, stderr });
    })
  );
  return { pid: child.pid!, begun, done };
}

async function run(db: string, params: string[] = []): Promise<void> {
  const result = await cli(["--db", db, "run", FIXTURE, ...params]);
  if (result.code !== 0) throw new Error(`cellar run on ${db} exited ${result.code}: ${result.stderr.slice(-2000)}`);
}

interface Reference {
  /** A store holding the earlier run, which "second run" writers start from; undefined: a fresh store. */
  base?: string;
  hashes: Map<string, string>;
  /** Milliseconds from the writer's first progress line to its exit. */
  ms: number;
}

/** The uninterrupted run's table hashes, and how long its writing lasts. */
async function reference(dir: string, base?: string): Promise<Reference> {
  const db = join(dir, "db.duckdb");
  if (base) copyFileSync(base, db);
  const writer = startWriter(db);
  await writer.begun;
  const t0 = Date.now();
  const { code, stderr } = await writer.done;
  if (code !== 0) throw new Error(`reference run exited ${code}: ${stderr.slice(-2000)}`);
  return { base, hashes: await tableHashes(db), ms: Date.now() - t0 };
}

/** `count` images of the kinds given, at random moments over the writer's run, from a store that starts as `base`. */
async function writeAndCopy(dir: string, ref: Reference, kinds: ImageKind[], random: () => number): Promise<Image[]> {
  const db = join(dir, "db.duckdb");
  if (ref.base) copyFileSync(ref.base, db);
  const writer = startWriter(db);
  await writer.begun;
  const t0 = Date.now();
  const moments = kinds.map(() => random() * ref.ms * 0.95).sort((a, b) => a - b);
  const images: Image[] = [];
  for (const [i, moment] of moments.entries()) {
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, moment - (Date.now() - t0))));
    images.push(await takeImage(db, join(dir, `image-${i}`), kinds[i], writer.pid, random));
  }
  const { code, stderr } = await writer.done;
  if (code !== 0) throw new Error(`writer exited ${code}: ${stderr.slice(-2000)}`);
  return images;
}

type Verdict =
  | { image: Image; ref: Reference; opened: false; message: string }
  | { image: Image; ref: Reference; opened: true; finished: boolean; behind: boolean };

/** Opens the copy as `cellar runs` would; undefined when it opened, else the refusal's message. */
async function openAsCellar(db: string): Promise<string | undefined> {
  const cellar = openCellar({ db, create: false });
  try {
    await cellar.store();
    return undefined;
  } catch (err) {
    if (!isCellarError(err)) throw err;
    return (err as Error).message;
  } finally {
    await cellar.close();
  }
}

/** Each failure as one line naming the image, its kind, what was done to it and its files. */
async function judge(image: Image, ref: Reference, failures: string[]): Promise<Verdict> {
  const files = describeFiles(image.db);
  const fail = (what: string) => failures.push(`${image.db} (${image.kind}: ${image.note}; ${files}): ${what}`);
  let message: string | undefined;
  try {
    message = await openAsCellar(image.db);
  } catch (err) {
    fail(`open threw a raw error: ${String((err as Error).stack ?? err).split("\n").slice(0, 3).join(" | ")}`);
    return { image, ref, opened: false, message: String(err) };
  }
  if (message !== undefined) {
    if (MUST_OPEN.has(image.kind)) fail(`refused, though a power cut leaves this: ${message}`);
    if (!isOneClearLine(message, image.db)) fail(`refused without one clear line of Cellar's naming the file: ${JSON.stringify(message)}`);
    return { image, ref, opened: false, message };
  }
  const violations = await checkInvariants(image.db).catch((err) => [{ invariant: "readable", detail: String(err) }]);
  if (violations.some((v) => v.invariant === "readable" && /Corrupt database file/.test(v.detail))) {
    // A damaged block DuckDB finds when it reads it: Cellar's own reads must refuse it in one line too.
    const refusal = await readThroughCellar(image.db);
    if (refusal === undefined || !isOneClearLine(refusal, image.db)) fail(`damage found by the checker, but Cellar read it all or said: ${refusal}`);
    if (MUST_OPEN.has(image.kind)) fail(`unreadable, though a power cut leaves this: ${refusal}`);
    return { image, ref, opened: false, message: refusal ?? "" };
  }
  // A view left behind its checkpoint is a crash's state the resumed run repairs (kernel/view-repair.ts): resumed below.
  const behind = violations.filter((v) => v.invariant === "view-latest");
  for (const v of violations.filter((v) => !behind.includes(v))) fail(`opened with a broken invariant: ${v.invariant}: ${v.detail}`);
  const hashes = await tableHashes(image.db);
  if (image.twin) {
    const twinRefused = await openAsCellar(image.twin);
    const twin = twinRefused === undefined ? await tableHashes(image.twin) : new Map([["refused", twinRefused]]);
    if (!sameHashes(hashes, twin)) fail(`opened, but holds other tables than its whole twin: ${diff(hashes, twin)}`);
  }
  // Finished: as many runs as the uninterrupted store has, all succeeded (a copy taken after the run ended).
  const finished = hashes.get(RUNS) === ref.hashes.get(RUNS);
  if (finished && !sameHashes(hashes, ref.hashes)) fail(`its run had finished, but its tables differ from the uninterrupted run's: ${diff(hashes, ref.hashes)}`);
  if (finished && behind.length > 0) fail(`its run had finished, with a view behind: ${behind[0].detail}`);
  return { image, ref, opened: true, finished, behind: behind.length > 0 };
}

function isOneClearLine(message: string, db: string): boolean {
  return !message.includes("\n") && message.startsWith(`database ${db}`) && !/\b(IO|Catalog|Internal|Serialization|Constraint) Error\b/.test(message);
}

/** Reads every row of every table through Store.query, as Cellar's commands read; the refusal, if any. */
async function readThroughCellar(db: string): Promise<string | undefined> {
  const store = await Store.open(db);
  try {
    const tables = await store.query(
      `SELECT table_schema AS s, table_name AS t FROM information_schema.tables WHERE table_catalog = current_database() AND table_type = 'BASE TABLE'`,
    );
    for (const { s, t } of tables) {
      await store.query(`SELECT sum(hash(r)) AS h FROM "${String(s).replaceAll('"', '""')}"."${String(t).replaceAll('"', '""')}" AS r`);
    }
    return undefined;
  } catch (err) {
    if (!isCellarError(err)) return `a raw error: ${String(err).split("\n", 1)[0]}`;
    return (err as Error).message;
  } finally {
    await store.close();
  }
}

/**
 * `cellar run` again on the copy: it must resume to the uninterrupted run's tables, with every invariant kept.
 * A damaged copy may instead refuse then, in one line: a commit reads blocks no reader touched (a free block it
 * reuses), so damage there is found only by a write. Whether it was refused is returned, for the figures.
 */
async function resume(verdict: Verdict & { opened: true }, failures: string[]): Promise<boolean> {
  const { image, ref } = verdict;
  const fail = (what: string) => void failures.push(`${image.db} (${image.kind}: ${image.note}), resumed: ${what}`);
  const result = await cli(["--db", image.db, "run", FIXTURE]);
  if (result.code !== 0) {
    const last = result.stderr.trimEnd().split("\n").at(-1) ?? "";
    const refusal = last.replace(/^cellar: /, "");
    if (!MUST_OPEN.has(image.kind) && last.startsWith("cellar: ") && /: damaged: /.test(refusal) && isOneClearLine(refusal, image.db)) return true;
    fail(`cellar run exited ${result.code}: ${result.stderr.split("\n").slice(-4).join(" | ")}`);
    return false;
  }
  for (const v of await checkInvariants(image.db)) fail(`${v.invariant}: ${v.detail}`);
  const hashes = await tableHashes(image.db);
  if (!sameHashes(hashes, ref.hashes)) fail(`tables differ from the uninterrupted run's: ${diff(hashes, ref.hashes)}`);
  return false;
}

function sameHashes(a: Map<string, string>, b: Map<string, string>): boolean {
  return a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);
}

function diff(a: Map<string, string>, b: Map<string, string>): string {
  const keys = [...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k));
  return keys.slice(0, 4).map((k) => `${k}: ${a.get(k)?.slice(0, 60) ?? "absent"} vs ${b.get(k)?.slice(0, 60) ?? "absent"}`).join("; ");
}

/** Every kind equally often, in a seeded random order. */
function kindsFor(count: number, random: () => number): ImageKind[] {
  const kinds = Array.from({ length: count }, (_, i) => IMAGE_KINDS[i % IMAGE_KINDS.length]);
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [kinds[i], kinds[j]] = [kinds[j], kinds[i]];
  }
  return kinds;
}

describe("crash images", () => {
  it(`every copy of a store taken as a run writes opens and keeps the invariants, or is refused in one line (${WRITERS * PER_WRITER} images)`, async () => {
    console.log(`crash images: seed ${SEED} (CRASH_SEED=${SEED} replays), ${WRITERS} writers × ${PER_WRITER} images, ${RESUMES} resumed`);
    const random = rng(SEED);
    const root = tempDir("cellar-crash-images-");
    const t0 = Date.now();
    const earlier = join(root, "earlier");
    const refDirs = [join(root, "ref-fresh"), join(root, "ref-second")];
    for (const d of [earlier, ...refDirs]) mkdirSync(d);
    const [fresh] = await Promise.all([reference(refDirs[0]), run(join(earlier, "db.duckdb"), EARLIER)]);
    const refs = [fresh, await reference(refDirs[1], join(earlier, "db.duckdb"))];
    const t1 = Date.now();

    const kinds = kindsFor(WRITERS * PER_WRITER, random);
    const images: Array<{ image: Image; ref: Reference }> = [];
    for (let w = 0; w < WRITERS; w++) {
      const dir = join(root, `writer-${w}`);
      mkdirSync(dir);
      const ref = refs[w % 2];
      for (const image of await writeAndCopy(dir, ref, kinds.slice(w * PER_WRITER, (w + 1) * PER_WRITER), random)) images.push({ image, ref });
    }

    const t2 = Date.now();
    const failures: string[] = [];
    const verdicts: Verdict[] = [];
    for (const { image, ref } of images) verdicts.push(await judge(image, ref, failures));
    // Resumed: the unfinished copies that opened, spread over the kinds.
    const unfinished = verdicts.filter((v): v is Verdict & { opened: true } => v.opened && !v.finished);
    const spread = IMAGE_KINDS.flatMap((k) => unfinished.filter((v) => v.image.kind === k && !v.behind)).filter((_, i, all) =>
      i % Math.max(1, Math.floor(all.length / RESUMES)) === 0
    ).slice(0, RESUMES);
    // Every copy with a view behind its checkpoint is resumed: that it is repaired is what makes it a valid state.
    const chosen = [...unfinished.filter((v) => v.behind), ...spread];
    const t3 = Date.now();
    let refusedOnResume = 0;
    for (let i = 0; i < chosen.length; i += 2) {
      for (const refused of await Promise.all(chosen.slice(i, i + 2).map((v) => resume(v, failures)))) refusedOnResume += Number(refused);
    }
    const seconds = (a: number, b: number) => `${((b - a) / 1000).toFixed(1)} s`;
    console.log(
      `crash images: references ${seconds(t0, t1)}, writers and copies ${seconds(t1, t2)}, opening and checking ${seconds(t2, t3)}, resuming ${seconds(t3, Date.now())}`,
    );

    const figures = Object.fromEntries(IMAGE_KINDS.map((k) => {
      const of = verdicts.filter((v) => v.image.kind === k);
      return [k, `${of.filter((v) => v.opened).length} opened, ${of.filter((v) => !v.opened).length} refused`];
    }));
    console.log(
      `crash images: ${verdicts.length} checked, ${chosen.length - refusedOnResume} resumed to the uninterrupted run's tables, ` +
        `${refusedOnResume} refused as damaged by the resumed run's writes`,
      figures,
    );
    const refusals = [...new Set(verdicts.flatMap((v) => (v.opened ? [] : [v.message.replace(/\/\S+/g, "<file>").replace(/\d+/g, "N")])))];
    console.log(`crash images: refusals:\n  ${refusals.join("\n  ")}`);
    expect(failures, `seed ${SEED}; images kept in ${root}`).toEqual([]);
    expect(verdicts.length).toBe(WRITERS * PER_WRITER);
    expect(chosen.length).toBeGreaterThanOrEqual(Math.min(RESUMES, 2));
    rmSync(root, { recursive: true, force: true });
  }, LONG ? 3_600_000 : 300_000);
});
