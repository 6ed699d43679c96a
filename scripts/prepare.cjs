// `npm install` in a checkout builds the native module and the TypeScript facade, so that
// `npm install && npm run demo` works from source. Installs from the registry ship dist/
// and a prebuilt binary instead, and skip this.
const { execSync } = require("node:child_process");
const { existsSync } = require("node:fs");
const { join } = require("node:path");

const root = join(__dirname, "..");
if (!existsSync(join(root, "Cargo.toml")) || process.env.PALIMPSEST_SKIP_BUILD) {
  process.exit(0);
}
execSync("npm run build", { cwd: root, stdio: "inherit" });
