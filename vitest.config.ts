import { defineConfig } from "vitest/config";

// Each project is one part of the product; `npm test` runs them all.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "core",
          include: ["test/core/**/*.test.ts"],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: "model",
          include: ["test/model/**/*.test.ts"],
          testTimeout: 300_000,
        },
      },
      {
        test: {
          name: "display",
          include: ["test/display/**/*.test.ts"],
          testTimeout: 60_000,
        },
      },
      {
        // Real Jupyter and a real browser: run one file at a time on two cores.
        test: {
          name: "notebooks",
          include: ["test/notebooks/**/*.test.ts"],
          testTimeout: 900_000,
          hookTimeout: 900_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: "extension",
          include: ["test/extension/**/*.test.ts"],
          testTimeout: 600_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
