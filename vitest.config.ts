import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["test/deno/**", "node_modules/**"],
    // Child processes (the CLI, kill -9) and DuckDB files make these slower than unit tests.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // At least two files at once: most files wait on child processes (the CLI, servers, kill -9), and Vitest's
    // default on the 2-core CI host is one worker. There the suite took 685-706 s with one and 410 s with two.
    maxWorkers: Math.max(2, availableParallelism() - 1),
  },
});
