// @lancedb/lancedb (devDependency), with the same calls as palimpsest.
import { lanceAdapter } from "./lance.mjs";

export async function load() {
  const lib = await import("@lancedb/lancedb");
  return lanceAdapter("lancedb", lib, {
    module: "@lancedb/lancedb",
    stableRowIdsByDefault: false,
    // A storage option lance reads when it creates the table.
    kindOptions: (stable) =>
      stable ? { storageOptions: { newTableEnableStableRowIds: "true" } } : {},
    // lancedb restores the checked-out version: checkout, then restore.
    async restore(t, v) {
      await t.checkout(v);
      await t.restore();
    },
  });
}
