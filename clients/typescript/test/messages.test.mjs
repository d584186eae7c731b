// Every reason in the published enum (proto/keyward/v1/error_reason.proto, which the server's
// table test pins to what it sends) has its own sentence on the sign-in page, and the page has no
// message for a reason that does not exist. `tsc` enforces the first half through the
// `Record<ErrorReasonName, …>` type; this checks the built page's table at run time as well.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { importTs, repoRoot } from "./harness.mjs";

function publishedReasons() {
  const proto = readFileSync(join(repoRoot, "proto", "keyward", "v1", "error_reason.proto"), "utf8");
  return [...proto.matchAll(/^\s+([A-Z][A-Z0-9_]+) = \d+;/gm)]
    .map((m) => m[1])
    .filter((name) => name !== "ERROR_REASON_UNSPECIFIED")
    .sort();
}

test("every published reason has a message on the sign-in page, and no other", async () => {
  const { REASON_MESSAGES } = await importTs("src/messages.ts");
  const reasons = publishedReasons();
  assert.ok(reasons.length > 40, `found only ${reasons.length} reasons: the proto layout changed`);
  assert.deepEqual(Object.keys(REASON_MESSAGES).sort(), reasons);
});

test("the generated enum names are the wire strings", async () => {
  const { ErrorReason } = await importTs("src/index.ts");
  assert.equal(ErrorReason[ErrorReason.INVALID_CREDENTIALS], "INVALID_CREDENTIALS");
  assert.deepEqual(
    Object.keys(ErrorReason).filter((key) => Number.isNaN(Number(key)) && key !== "ERROR_REASON_UNSPECIFIED").sort(),
    publishedReasons(),
  );
});
