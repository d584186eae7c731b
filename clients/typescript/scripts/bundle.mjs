// Bundles the sign-in page's script into src/web/signin/app.js of the Rust crate, which embeds it
// (include_str!, with index.html and app.css straight from signin/) so `keyward serve` needs no Node. The output is committed;
// scripts/check-generated rebuilds it and fails when it differs.
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "..", "..", "src", "web", "signin");
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(root, "signin", "main.ts")],
  outfile: join(out, "app.js"),
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: true,
  legalComments: "eof",
  charset: "utf8",
  logLevel: "warning",
});
