/**
 * Crash images (issue 14, item 2): copies of a store's files, taken while a
 * run writes, as a power cut, a lost file or bad media would leave them.
 *
 * What a power cut leaves is the disk as of one instant: every write the
 * kernel had accepted may or may not be there, and DuckDB orders its writes
 * (the WAL is fsynced at each commit; a checkpoint's blocks before its
 * header, the header before the WAL is dropped) so that any such instant
 * recovers. The files are copied from the page cache, which holds every
 * accepted write, so an instant is taken by stopping the writer (SIGSTOP)
 * while all its files are copied: "frozen". From a frozen copy come the
 * other states a power cut (or a bad disk) can leave:
 * - "torn-wal": the WAL cut at a random byte (the tail of a write that never
 *   reached the disk), and "torn-wal-zeroed": the same tail zeroed with the
 *   file's length kept (the size reached the disk, the data did not);
 * - "lost-wal": the database file alone, as after a WAL lost or deleted;
 * - "zeroed-page" and "flipped-bit": one random 4 KiB page of the database
 *   file zeroed, or one bit flipped (media corruption). `twin` is the same
 *   copy left whole, to compare with.
 * And two copies no instant leaves, because the writer runs on between the
 * files: "wal-then-db" and "db-then-wal" (up to 300 ms apart), as a careless backup would take them.
 * A checkpoint in between pairs a WAL with a database it does not belong to.
 *
 * @example
 * ```ts
 * import { takeImage } from "./crash-images.ts";
 * declare const writerPid: number;
 *
 * const image = await takeImage("/tmp/run/db.duckdb", "/tmp/img-1", "torn-wal", writerPid, Math.random);
 * console.log(image.db, image.note); // /tmp/img-1/db.duckdb  WAL cut at byte 1234 of 5678
 * ```
 */
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, readSync, rmSync, statSync, truncateSync, writeSync } from "node:fs";
import { basename, join } from "node:path";

export const IMAGE_KINDS = [
  "frozen", "wal-then-db", "db-then-wal", "torn-wal", "torn-wal-zeroed", "lost-wal", "zeroed-page", "flipped-bit",
] as const;
export type ImageKind = typeof IMAGE_KINDS[number];

export interface Image {
  kind: ImageKind;
  /** The copy's database file; its WAL files beside it, named as DuckDB names them. */
  db: string;
  /** What was done to the copy, for a failure's message: "WAL cut at byte 1234 of 5678". */
  note: string;
  /** For the corruption kinds: the same frozen copy, left whole. */
  twin?: string;
}

/**
 * The files DuckDB keeps beside `<db>`: its WAL, the WAL that takes commits while a checkpoint runs, and the
 * one replay works in. A copy that left one out would be a lost file, not the instant it claims to be.
 */
export const WAL_SUFFIXES = [".wal", ".wal.checkpoint", ".wal.recovery"] as const;

/** Copies `db`'s files into `dir` (same names) as they are at one instant: with `pid` stopped throughout. */
export function copyFrozen(db: string, dir: string, pid: number): void {
  try {
    process.kill(pid, "SIGSTOP");
  } catch (err) {
    // The writer has exited: its files hold still without it.
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
    return copyFiles(db, dir, ["", ...WAL_SUFFIXES]);
  }
  try {
    waitStopped(pid);
    copyFiles(db, dir, ["", ...WAL_SUFFIXES]);
  } finally {
    try {
      process.kill(pid, "SIGCONT");
    } catch {
      // exited meanwhile (killed by someone else): nothing to continue
    }
  }
}

/** One copy of the kind asked for, in `dir`; `random` picks the byte, page or bit. */
export async function takeImage(db: string, dir: string, kind: ImageKind, pid: number, random: () => number): Promise<Image> {
  mkdirSync(dir, { recursive: true });
  const copy = join(dir, basename(db));
  if (kind === "wal-then-db" || kind === "db-then-wal") {
    // As a backup copying one file after another would, slowly: a checkpoint may fall in between.
    const gapMs = Math.floor(random() * 300);
    const [first, second] = kind === "wal-then-db" ? [WAL_SUFFIXES, [""]] : [[""], WAL_SUFFIXES];
    copyFiles(db, dir, first);
    await new Promise((resolve) => setTimeout(resolve, gapMs));
    copyFiles(db, dir, second);
    const what = kind === "wal-then-db" ? "the WAL, then the database" : "the database, then the WAL";
    return { kind, db: copy, note: `copied ${what} ${gapMs} ms later, while the writer ran` };
  }
  copyFrozen(db, dir, pid);
  if (kind === "frozen") return { kind, db: copy, note: "all files at one instant" };
  if (kind === "torn-wal" || kind === "torn-wal-zeroed") return { kind, db: copy, note: tearWal(`${copy}.wal`, kind === "torn-wal-zeroed", random) };
  if (kind === "lost-wal") {
    const wal = WAL_SUFFIXES.filter((s) => existsSync(copy + s));
    for (const s of wal) rmSync(copy + s);
    return { kind, db: copy, note: wal.length > 0 ? `the database alone (without ${wal.map((s) => basename(copy) + s).join(", ")})` : "the database alone (it had no WAL)" };
  }
  const twinDir = join(dir, "twin");
  mkdirSync(twinDir);
  copyFiles(copy, twinDir, ["", ...WAL_SUFFIXES]);
  return { kind, db: copy, twin: join(twinDir, basename(db)), note: corrupt(copy, kind === "zeroed-page", random) };
}

/** The image's files and sizes, for a failure's message. */
export function describeFiles(db: string): string {
  return ["", ...WAL_SUFFIXES].filter((s) => existsSync(db + s)).map((s) => `${basename(db)}${s} ${statSync(db + s).size} B`).join(", ");
}

function copyFiles(db: string, dir: string, suffixes: readonly string[]): void {
  for (const suffix of suffixes) {
    try {
      copyFileSync(db + suffix, join(dir, basename(db) + suffix));
    } catch (err) {
      // A file that is not there (no WAL yet, or dropped by a checkpoint as it was copied) is not there in the copy either.
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
}

/** SIGSTOP is delivered asynchronously: a copy begun before the writer has stopped is no instant. */
function waitStopped(pid: number): void {
  const deadline = Date.now() + 2000;
  while (Date.now() < deadline) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      return; // exited: its files hold still too
    }
    // The state is the field after the command's closing parenthesis: T (stopped), Z (zombie).
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    if (state === "T" || state === "t" || state === "Z") return;
  }
  throw new Error(`writer ${pid} did not stop within 2 s of SIGSTOP`);
}

/** Cuts the WAL at a random byte (or zeroes it from there on, length kept); no WAL, no cut. */
function tearWal(wal: string, zeroed: boolean, random: () => number): string {
  if (!existsSync(wal) || statSync(wal).size === 0) return "no WAL to tear";
  const size = statSync(wal).size;
  const cut = Math.floor(random() * size);
  if (!zeroed) {
    truncateSync(wal, cut);
    return `WAL cut at byte ${cut} of ${size}`;
  }
  const fd = openSync(wal, "r+");
  try {
    writeSync(fd, new Uint8Array(size - cut), 0, size - cut, cut);
  } finally {
    closeSync(fd);
  }
  return `WAL zeroed from byte ${cut} of ${size}`;
}

const PAGE = 4096;

/** Zeroes one random 4 KiB page of the database file, or flips one random bit. */
function corrupt(db: string, zero: boolean, random: () => number): string {
  const size = statSync(db).size;
  const fd = openSync(db, "r+");
  try {
    if (zero) {
      const page = Math.floor(random() * Math.ceil(size / PAGE));
      const length = Math.min(PAGE, size - page * PAGE);
      writeSync(fd, new Uint8Array(length), 0, length, page * PAGE);
      return `page ${page} (bytes ${page * PAGE}..${page * PAGE + length}) of ${size} zeroed`;
    }
    const at = Math.floor(random() * size);
    const bit = Math.floor(random() * 8);
    const byte = new Uint8Array(1);
    readSync(fd, byte, 0, 1, at);
    byte[0] ^= 1 << bit;
    writeSync(fd, byte, 0, 1, at);
    return `bit ${bit} of byte ${at} of ${size} flipped`;
  } finally {
    closeSync(fd);
  }
}
