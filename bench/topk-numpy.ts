// The numpy reference for bench/topk.bench.ts: the same vectors and queries (raw float32 files), scored
// by one matrix product (OpenBLAS here) and cut to the top k with argpartition + a sort, in a child
// `python3 -c`. Undefined (and the bench says "skipped: no numpy") when python3 or numpy is missing.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

const SCRIPT = `
import json, sys, time
import numpy as np
vectors_path, queries_path, dim, k, single = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
V = np.fromfile(vectors_path, dtype=np.float32).reshape(-1, dim)
Q = np.fromfile(queries_path, dtype=np.float32).reshape(-1, dim)
def topk(q):
    s = q @ V.T
    idx = np.argpartition(-s, k - 1, axis=1)[:, :k]
    part = np.take_along_axis(s, idx, 1)
    return np.take_along_axis(idx, np.argsort(-part, axis=1, kind="stable"), 1)
def best(f, n=3):
    f()
    times = []
    for _ in range(n):
        t = time.perf_counter(); f(); times.append(time.perf_counter() - t)
    return min(times) * 1000
batch_ms = best(lambda: topk(Q))
product_ms = best(lambda: Q @ V.T)
def singles():
    for i in range(single):
        topk(Q[i:i + 1])
single_ms = best(singles, 2) / single
print(json.dumps({"batch_ms": batch_ms, "product_ms": product_ms, "single_ms": single_ms, "numpy": np.__version__}))
`;

export interface NumpyFigures {
  batch_ms: number;
  product_ms: number;
  single_ms: number;
  numpy: string;
}

/** numpy's times on these rows, or the reason it could not run. */
export function numpyTopK(dir: string, vectors: Float32Array, queries: Float32Array, dim: number, k: number, single: number): NumpyFigures | { skipped: string } {
  const probe = spawnSync("python3", ["-c", "import numpy"], { encoding: "utf8" });
  if (probe.error || probe.status !== 0) return { skipped: "no numpy" };
  const vectorsPath = join(dir, "vectors.f32");
  const queriesPath = join(dir, "queries.f32");
  writeFileSync(vectorsPath, new Uint8Array(vectors.buffer, vectors.byteOffset, vectors.byteLength));
  writeFileSync(queriesPath, new Uint8Array(queries.buffer, queries.byteOffset, queries.byteLength));
  const run = spawnSync("python3", ["-c", SCRIPT, vectorsPath, queriesPath, String(dim), String(k), String(single)], { encoding: "utf8", maxBuffer: 1 << 20 });
  if (run.status !== 0) return { skipped: `numpy failed: ${run.stderr.trim().split("\n").pop()}` };
  return JSON.parse(run.stdout) as NumpyFigures;
}
