/**
 * The file access the crawler needs: bytes, sizes, entry kinds and chunked
 * reads, so that local pages are decoded by their own charset, size-capped
 * before reading, and large datasets stream.
 *
 * @example
 * ```ts
 * import { files } from "./files.ts";
 *
 * const info = await files.stat("docs/index.html"); // { directory: false, size: 5120, kind: "file" }
 * for await (const chunk of files.chunks("data.jsonl")) console.log(chunk.length);
 * ```
 */
import { type FileKind, runtime } from "../../kernel/mod.ts";

export interface FileInfo {
  directory: boolean;
  size: number;
  /** Only a regular `file` is ever opened: opening a FIFO blocks, a device may never end. */
  kind: FileKind;
}

export interface DirEntry {
  name: string;
  directory: boolean;
}

export const files = {
  /** What is at `path` (following symbolic links), or undefined when nothing is. */
  stat: (path: string): Promise<FileInfo | undefined> => runtime.stat(path),

  /** The canonical path (symbolic links resolved), or undefined when nothing is there: one real file, one key. */
  realPath: (path: string): Promise<string | undefined> => runtime.realPath(path).catch(() => undefined),

  readBytes: (path: string): Promise<Uint8Array> => runtime.readFile(path),

  /** Entries of a directory, sorted by name so that crawls are deterministic. */
  async list(path: string): Promise<DirEntry[]> {
    const entries = await runtime.readDirEntries(path);
    return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  },

  /** The file's bytes in chunks of `size`, without holding the whole file. */
  chunks: (path: string, size = 1 << 20): AsyncIterable<Uint8Array> => runtime.readChunks(path, size),
};
