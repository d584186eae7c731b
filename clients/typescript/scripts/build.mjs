// Builds dist/ (ES modules + .d.ts) from src/ with tsc: what `npm pack` ships and what an app
// that installs the package loads. Run by `npm run build` and npm's `prepare` (pack, install).
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
rmSync(join(root, "dist"), { recursive: true, force: true });
execFileSync(join(root, "node_modules", ".bin", "tsc"), ["-p", join(root, "tsconfig.build.json")], { stdio: "inherit" });
