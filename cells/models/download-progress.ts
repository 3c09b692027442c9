/**
 * What a model download shows while it runs. Given a `log` (a cell's ctx.log, so the run's own
 * view shows it): a line when a large file starts or resumes, one every 10 s while it runs, and one
 * when each file is done, with its size and rate. Without one, on a terminal: a cli-progress bar
 * (bytes, share, rate) per file; elsewhere the same lines on stderr.
 *
 * @example
 * ```ts
 * import { downloadProgress } from "./download-progress.ts";
 *
 * const progress = downloadProgress("BAAI/bge-small-en-v1.5", (line) => console.log(line));
 * const file = progress.start("onnx/model.onnx", 133_093_490, 0);
 * file.advance(65_536);
 * file.done();
 * ```
 */
import cliProgress from "cli-progress";
import { runtime } from "../../kernel/mod.ts";

/** One file's download. */
export interface FileProgress {
  advance(bytes: number): void;
  done(): void;
  /** Stops showing it, the download having failed (the error says why). */
  stop(): void;
}

export interface DownloadProgress {
  /** A file of `size` bytes starts, `from` of them already on disk (a resumed download). */
  start(file: string, size: number, from: number): FileProgress;
  /** A line of its own: a wait for another process's download of the same file. */
  say(line: string): void;
}

/** Files smaller than this get no start line, only their done line. */
const QUIET_BYTES = 1 << 20;
const LINE_EVERY_MS = 10_000;

export function downloadProgress(model: string, log?: (line: string) => void): DownloadProgress {
  const stream = log ? undefined : runtime.progressStream();
  // deno-lint-ignore no-console -- outside a cell there is no run log: stderr is where a download says what it does
  const say = log ?? ((line: string) => console.error(line));
  return { start: (file, size, from) => (stream ? barFor(stream, model, file, size, from) : linesFor(say, model, file, size, from)), say };
}

function linesFor(say: (line: string) => void, model: string, file: string, size: number, from: number): FileProgress {
  const started = Date.now();
  let done = from;
  let lastLine = started;
  if (from > 0) say(`model ${model}: resuming ${file} at ${megabytes(from)} of ${megabytes(size)}`);
  else if (size >= QUIET_BYTES) say(`model ${model}: downloading ${file} (${megabytes(size)})`);
  return {
    advance(bytes) {
      done += bytes;
      const now = Date.now();
      if (now - lastLine < LINE_EVERY_MS) return;
      lastLine = now;
      say(`model ${model}: ${file} ${megabytes(done)} of ${megabytes(size)} (${percent(done, size)}, ${rate(done - from, now - started)})`);
    },
    done() {
      say(`model ${model}: ${file} done, ${megabytes(done - from)} in ${seconds(Date.now() - started)} (${rate(done - from, Date.now() - started)})`);
    },
    stop() {},
  };
}

function barFor(stream: unknown, model: string, file: string, size: number, from: number): FileProgress {
  const started = Date.now();
  const bar = new cliProgress.SingleBar({
    stream: stream as NodeJS.WritableStream,
    format: ` ${model} ${file} [{bar}] {percentage}% {got} of {size} {rate}`,
    hideCursor: true,
    barsize: 24,
    fps: 5,
  }, cliProgress.Presets.shades_classic);
  let done = from;
  const payload = () => ({ got: megabytes(done), size: megabytes(size), rate: rate(done - from, Date.now() - started) });
  bar.start(Math.max(size, 1), from, payload());
  return {
    advance(bytes) {
      done += bytes;
      bar.update(done, payload());
    },
    done() {
      bar.update(done, payload());
      bar.stop();
    },
    stop: () => bar.stop(),
  };
}

export function megabytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1 << 20) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / (1 << 20)).toFixed(1)} MB`;
}

function percent(done: number, size: number): string {
  return size > 0 ? `${Math.floor((done / size) * 100)}%` : "?%";
}

function rate(bytes: number, ms: number): string {
  return `${megabytes(Math.round(bytes / Math.max(ms / 1000, 0.001)))}/s`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
