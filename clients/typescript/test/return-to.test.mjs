// The sign-in page's return_to check on its own: only this origin and the listed ones, compared
// exactly after URL parsing, whatever tricks the value plays.
import assert from "node:assert/strict";
import { test } from "node:test";
import { importTs } from "./harness.mjs";

const PAGE = "https://id.example.com";
const ALLOWED = ["https://app.example.com", "http://localhost:3000"];

test("return_to accepts this origin and the allowed ones, and nothing else", async () => {
  const { allowedReturnTo } = await importTs("signin/return-to.ts");
  const check = (value) => allowedReturnTo(value, PAGE, ALLOWED)?.href;
  assert.equal(check("https://app.example.com/dashboard?tab=1#top"), "https://app.example.com/dashboard?tab=1#top");
  assert.equal(check("http://localhost:3000/"), "http://localhost:3000/");
  assert.equal(check("/account"), "https://id.example.com/account");
  for (const refused of [
    null,
    "",
    "https://evil.example/",
    "//evil.example/path",
    "/\\evil.example",
    "\\\\evil.example",
    "https://app.example.com.evil.example/",
    "https://app.example.com@evil.example/",
    "https://user:pass@app.example.com/",
    "http://app.example.com/", // another scheme is another origin
    "https://app.example.com:8443/",
    "javascript:alert(document.domain)",
    "data:text/html,<script>alert(1)</script>",
    "http://localhost:3001/",
    "http://[::1",
  ]) {
    assert.equal(check(refused), undefined, `${refused} was accepted`);
  }
});
