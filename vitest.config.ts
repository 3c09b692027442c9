import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["test/deno/**", "node_modules/**"],
    // Child processes (the CLI, kill -9) and DuckDB files make these slower than unit tests.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // `npm run test:coverage`: statements and branches of the kernel and the cells (issue 14's figure).
    coverage: {
      provider: "v8",
      include: ["kernel/**/*.ts", "cells/**/*.ts"],
      reporter: ["text-summary", "json-summary", "html"],
      reportsDirectory: "coverage",
    },
  },
});
