// The server helpers through a switch from better-auth: a better-auth database built by
// better-auth itself (tests/better-auth/seed.mjs), imported with `keyward import better-auth`
// into a real `keyward serve`'s data directory; then getSession reads the signed
// better-auth.session_token cookie (URI-encoded, as the browser sends it) after Keyward's own,
// and adoptAuthjsSession moves it into Keyward's cookie for useSession.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { importTs, keywardBin, nodeClient, startKeyward } from "./harness.mjs";

const fixture = resolve(import.meta.dirname, "../../../tests/better-auth");
let server;
let helpers;
let lib;
let seed;
let dir;

before(async () => {
  assert.ok(existsSync(join(fixture, "node_modules/better-auth")), "npm ci --prefix tests/better-auth");
  dir = mkdtempSync(join(tmpdir(), "keyward-better-auth-"));
  const source = `sqlite:${join(dir, "better-auth.db")}`;
  seed = JSON.parse(execFileSync("node", [join(fixture, "seed.mjs"), source], { encoding: "utf8" }));
  const dataDir = join(dir, "keyward");
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("KEYWARD_")));
  execFileSync(keywardBin(), ["--data-dir", dataDir, "import", "better-auth", "--from", source], {
    env: { ...env, BETTER_AUTH_SECRET: seed.secret, KEYWARD_LOG: "warn" },
    encoding: "utf8",
  });
  [server, helpers, lib] = await Promise.all([startKeyward({ KEYWARD_DATA_DIR: dataDir }), importTs("src/server/index.ts"), nodeClient()]);
});
after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("getSession reads better-auth's signed cookie after Keyward's and Auth.js's", async () => {
  const options = { baseUrl: server.origin };
  const read = async (cookie, extra = {}) => (await helpers.getSession({ ...options, ...extra, headers: { cookie } }))?.user.email ?? null;
  for (const name of helpers.BETTER_AUTH_SESSION_COOKIE_NAMES) {
    assert.equal(await read(`${name}=${seed.cookies.ada}`), "ada@example.com", name);
  }
  // Keyward's cookie wins; the option turns better-auth's off; a forged signature is signed out.
  const { signedIn } = await lib.createKeywardClient({ baseUrl: server.origin }).auth.login({ email: "grace@example.com", password: seed.users.grace.password });
  assert.equal(await read(`better-auth.session_token=${seed.cookies.ada}; ${lib.SESSION_COOKIE_NAME}=${signedIn.sessionToken}`), "grace@example.com");
  assert.equal(await read(`better-auth.session_token=${seed.cookies.ada}`, { betterAuthCookies: false }), null);
  assert.equal(await read(`better-auth.session_token=${seed.tokens.ada}.${"A".repeat(43)}%3D`), null);
  assert.equal(await read(`better-auth.session_token=${seed.tokens.ada}`), null, "the token without its signature");
  assert.equal(await read("better-auth.session_token=%E0%A4%A"), null, "malformed URI encoding");
});

test("adoptAuthjsSession moves better-auth's cookie into Keyward's", async () => {
  const adopted = await helpers.adoptAuthjsSession({ baseUrl: server.origin, headers: { cookie: `__Secure-better-auth.session_token=${seed.cookies.ada}` } });
  assert.equal(adopted.session.user.email, "ada@example.com");
  const [keyward, deleted] = adopted.cookies;
  assert.equal(keyward.name, lib.SESSION_COOKIE_NAME);
  assert.equal(keyward.value, decodeURIComponent(seed.cookies.ada));
  assert.deepEqual([deleted.name, deleted.value, deleted.maxAge], ["__Secure-better-auth.session_token", "", 0]);
  // The moved value is a Keyward session cookie from then on.
  const session = await helpers.getSession({ baseUrl: server.origin, headers: { cookie: `${lib.SESSION_COOKIE_NAME}=${keyward.value}` } });
  assert.equal(session.user.email, "ada@example.com");
});
