/**
 * Tells a DuckDB file whose main header was overwritten from a file that is no database at all. DuckDB
 * refuses both alike ("not a valid DuckDB database file": its magic is missing), and to be told to pass a
 * DuckDB file when the file is one's store, damaged, sends a user looking for the wrong fix.
 *
 * A DuckDB file starts with three 4 KiB headers: the main one (a checksum, then the magic `DUCK`), and two
 * database headers written in turn at each checkpoint, each with its own checksum; its blocks follow in
 * 256 KiB steps. The file is a damaged store when a database header still passes its checksum, or when the
 * headers are zeroed (what a torn write or a zeroed page leaves) in a file of a DuckDB file's size.
 *
 * @example
 * ```ts
 * import { damagedHeader } from "./damaged-header.ts";
 *
 * const why = await damagedHeader(".cellar/cellar.duckdb"); // → "its main header (bytes 0-4095) is zeroed (…)", or undefined
 * ```
 */
import { runtime } from "../runtime/mod.ts";

const HEADER = 4096;
const HEADERS = 3 * HEADER;
const BLOCK = 256 * 1024;
/** DuckDB's checksum (src/common/checksum.cpp): 5381, xor each 64-bit word times this constant. */
const CHECKSUM_FACTOR = 0xbf58476d1ce4e5b9n;
const WORD_MASK = (1n << 64n) - 1n;

/** Why the file at `path` is a DuckDB file with a damaged header, or undefined when it does not look like one. */
export async function damagedHeader(path: string): Promise<string | undefined> {
  const info = await runtime.stat(path).catch(() => undefined);
  if (!info || info.kind !== "file" || info.size < HEADERS) return undefined;
  const head = await readHead(path);
  if (head.length < HEADERS) return undefined;
  const main = head.subarray(0, HEADER);
  const how = main.every((b) => b === 0) ? "is zeroed" : "has lost DuckDB's magic";
  const intact = [1, 2].filter((i) => checksumHolds(head.subarray(i * HEADER, (i + 1) * HEADER)));
  if (intact.length > 0) {
    return `its main header (bytes 0-4095) ${how} (its database header${intact.length > 1 ? "s still pass their checksums" : " at byte " + intact[0] * HEADER + " still passes its checksum"})`;
  }
  if (how === "is zeroed" && (info.size - HEADERS) % BLOCK === 0 && info.size > HEADERS) {
    return `its headers (bytes 0-12287) are zeroed (its size, ${info.size} bytes, is a DuckDB file's)`;
  }
  return undefined;
}

async function readHead(path: string): Promise<Uint8Array> {
  const head = new Uint8Array(HEADERS);
  let filled = 0;
  for await (const chunk of runtime.readChunks(path, HEADERS)) {
    const part = chunk.subarray(0, HEADERS - filled);
    head.set(part, filled);
    filled += part.length;
    if (filled === HEADERS) break;
  }
  return head.subarray(0, filled);
}

/** Whether a 4 KiB header's first 8 bytes are DuckDB's checksum of the rest (an all-zero header fails it). */
function checksumHolds(header: Uint8Array): boolean {
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  let sum = 5381n;
  for (let at = 8; at < header.byteLength; at += 8) sum ^= (view.getBigUint64(at, true) * CHECKSUM_FACTOR) & WORD_MASK;
  return sum === view.getBigUint64(0, true);
}
