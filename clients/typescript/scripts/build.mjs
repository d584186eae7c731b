// Builds dist/ (ES modules + .d.ts) from src/ with tsc: what `npm pack` ships and what an app
// that installs the package loads. Run by `npm run build` (scripts/package, scripts/test and
// .ci/run call it before packing or installing the package from its directory). Deliberately not
// a lifecycle script: the published package.json must name no script whose file it does not ship.
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
rmSync(join(root, "dist"), { recursive: true, force: true });
execFileSync(join(root, "node_modules", ".bin", "tsc"), ["-p", join(root, "tsconfig.build.json")], { stdio: "inherit" });
