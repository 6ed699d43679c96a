import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["__test__/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Native addons and child processes: isolate each file in its own process.
    pool: "forks",
  },
});
