// Prints vitest's totals as one plain closing line ("vitest: N passed, N failed"), which CI
// logs read more reliably than vitest's coloured summary.
const { readFileSync } = require("node:fs");
const { join } = require("node:path");

const file = join(__dirname, "..", ".vitest", "results.json");
const results = JSON.parse(readFileSync(file, "utf8"));
const skipped = results.numPendingTests + results.numTodoTests;
console.log(
  `vitest: ${results.numPassedTests} passed, ${results.numFailedTests} failed` +
    (skipped ? `, ${skipped} skipped` : ""),
);
process.exit(results.numFailedTests === 0 ? 0 : 1);
