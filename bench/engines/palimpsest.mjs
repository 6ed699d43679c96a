// palimpsest, as built in dist/ (run `npm run build:ts` after changing js/).
import { lanceAdapter } from "./lance.mjs";

export async function load(opts = {}) {
  const lib = await import("../../dist/index.mjs");
  return lanceAdapter("palimpsest", lib, {
    module: new URL("../../dist/index.mjs", import.meta.url).href,
    connectOptions: opts.noFsync ? { durable: false } : undefined,
    stableRowIdsByDefault: true,
    kindOptions: (stableRowIds) => ({ stableRowIds }),
  });
}
