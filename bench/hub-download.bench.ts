// Model download throughput: fetchHubModel (cells/models/hub.ts) against curl, on the same files from the
// same local hub (test/fixtures/hub-server.ts, in a process of its own so that neither client shares its
// event loop). Prints one JSON object.
//
//   npx tsx bench/hub-download.bench.ts                 # a 128 MB weights file and the three JSON files, 5 rounds
//   npx tsx bench/hub-download.bench.ts --mb 32 --rounds 3
//
// Each round downloads the whole model twice, curl first on even rounds and Cellar first on odd ones, into
// fresh directories: Cellar into an empty model cache (resolve, the 302 to the CDN, writing the
// .incomplete part, sha256 / git-sha1 of every file, the rename and the snapshot's links), curl with
// `-L` (follows the redirect) writing the same four files, verifying nothing. The figures are medians;
// `ratio` is Cellar's throughput over curl's, measured in the same run.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { fetchHubModel } from "../cells/models/hub.ts";
import { commitOf, startHubServer } from "../test/fixtures/hub-server.ts";

const SELF = fileURLToPath(import.meta.url);
const ID = "bench/model";
const SMALL = ["config.json", "tokenizer.json", "tokenizer_config.json"];
const FILES = [...SMALL, "onnx/model.onnx"];

function arg(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}

/** Seeded bytes (xorshift32): incompressible like real weights, the same on every run. */
function weights(bytes: number): Uint8Array {
  const words = new Uint32Array(Math.ceil(bytes / 4));
  let x = 2463534242;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return new Uint8Array(words.buffer, 0, bytes);
}

/** The server process: a hub with one model, its URL on stdout, until stdin closes. */
async function serve(mb: number): Promise<void> {
  const text = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
  const files: Record<string, Uint8Array> = {
    "config.json": text({ model_type: "bert", hidden_size: 384 }),
    "tokenizer.json": text({ vocab: Array.from({ length: 30_000 }, (_, i) => `token${i}`) }),
    "tokenizer_config.json": text({ model_max_length: 512 }),
    "onnx/model.onnx": weights(mb * 1024 * 1024),
  };
  const commit = commitOf(files);
  const hub = await startHubServer([{ id: ID, commits: { [commit]: files }, refs: { main: commit } }]);
  const total = Object.values(files).reduce((n, f) => n + f.length, 0);
  process.stdout.write(`${JSON.stringify({ url: hub.url, bytes: total })}\n`);
  process.stdin.resume();
  process.stdin.on("end", () => void hub.close().then(() => process.exit(0)));
}

async function startServer(mb: number): Promise<{ url: string; bytes: number; stop(): void }> {
  const child = spawn(process.execPath, [...process.execArgv, SELF, "--serve", "--mb", String(mb)], { stdio: ["pipe", "pipe", "inherit"] });
  const line = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
      if (out.includes("\n")) resolve(out.split("\n")[0]);
    });
    child.on("exit", (code) => reject(new Error(`the hub server exited (${code})`)));
  });
  return { ...JSON.parse(line), stop: () => child.stdin.end() };
}

async function timed(run: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

function curl(url: string, dir: string): Promise<void> {
  const args = ["-sSfL", "--create-dirs"];
  for (const file of FILES) args.push("-o", join(dir, file), `${url}/${ID}/resolve/main/${file}`);
  return new Promise((resolve, reject) => {
    const child = spawn("curl", args, { stdio: ["ignore", "ignore", "inherit"] });
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`curl exited with ${code}`))));
    child.on("error", reject);
  });
}

async function cellar(url: string, dir: string): Promise<void> {
  process.env.HF_ENDPOINT = url;
  process.env.CELLAR_MODEL_CACHE = dir;
  await fetchHubModel(ID, { files: FILES, log: () => {} });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const mb = arg("mb", 128);
  const rounds = arg("rounds", 5);
  const server = await startServer(mb);
  const work = mkdtempSync(join(tmpdir(), "cellar-hub-bench-"));
  const ms = { cellar: [] as number[], curl: [] as number[] };
  try {
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? (["curl", "cellar"] as const) : (["cellar", "curl"] as const);
      for (const who of order) {
        const dir = join(work, `${who}-${round}`);
        ms[who].push(await timed(() => (who === "curl" ? curl(server.url, dir) : cellar(server.url, dir))));
        rmSync(dir, { recursive: true, force: true });
      }
    }
  } finally {
    server.stop();
    rmSync(work, { recursive: true, force: true });
  }
  const rate = (t: number) => Number((server.bytes / (1024 * 1024) / (t / 1000)).toFixed(1));
  const cellarMs = median(ms.cellar);
  const curlMs = median(ms.curl);
  process.stdout.write(`${JSON.stringify({
    bench: "hub-download",
    files: FILES.length,
    bytes: server.bytes,
    rounds,
    cellar_mb_s: rate(cellarMs),
    curl_mb_s: rate(curlMs),
    ratio: Number((curlMs / cellarMs).toFixed(2)),
    cellar_ms: ms.cellar.map(Math.round),
    curl_ms: ms.curl.map(Math.round),
  })}\n`);
}

if (process.argv.includes("--serve")) await serve(arg("mb", 128));
else await main();
