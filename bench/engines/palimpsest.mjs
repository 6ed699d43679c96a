// palimpsest, as built in dist/ (run `npm run build:ts` after changing js/).
import { lanceAdapter } from "./lance.mjs";

export async function load() {
  const lib = await import("../../dist/index.mjs");
  return lanceAdapter("palimpsest", lib, {
    module: new URL("../../dist/index.mjs", import.meta.url).href,
  });
}
