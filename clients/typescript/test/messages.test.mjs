// Every ErrorInfo reason the server can send has its own sentence on the sign-in page: the
// reasons are read from the Rust source that decides them (src/grpc/status.rs, src/error.rs).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { importTs, repoRoot } from "./harness.mjs";

function serverReasons() {
  const status = readFileSync(join(repoRoot, "src", "grpc", "status.rs"), "utf8");
  const errors = readFileSync(join(repoRoot, "src", "error.rs"), "utf8");
  const reasons = new Set([...status.matchAll(/"([A-Z][A-Z0-9_]{2,})"/g)].map((m) => m[1]));
  for (const m of errors.matchAll(/=> "([A-Z][A-Z0-9_]{2,})"/g)) reasons.add(m[1]);
  return [...reasons].sort();
}

test("every reason the server sends has a message on the sign-in page", async () => {
  const { REASON_MESSAGES } = await importTs("signin/messages.ts");
  const reasons = serverReasons();
  assert.ok(reasons.length > 40, `found only ${reasons.length} reasons: the source layout changed`);
  const missing = reasons.filter((reason) => !(reason in REASON_MESSAGES));
  assert.deepEqual(missing, [], "reasons without a message in clients/typescript/signin/messages.ts");
});
