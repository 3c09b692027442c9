import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["test/deno/**", "node_modules/**"],
    // Child processes (the CLI, kill -9) and DuckDB files make these slower than unit tests.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
});
