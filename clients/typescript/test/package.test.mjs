// The package as a user gets it: `npm run build` and `npm pack` (what scripts/package does), the
// tarball installed into a fresh project with no warnings and no install scripts, then plain
// Node 20 — no bundler, no flags, no TypeScript loader — imports all three entry points and calls
// getSession against a real `keyward serve`; roles an operator gave a user reach useSession
// (rendered with react-dom, from a value and from a promise), getSession, verifyAccessToken and
// the Python client's verify_access_token. The same project then type-checks against the packed
// declarations twice, with skipLibCheck off: as a browser app (DOM) and as a server-only one
// (NodeNext, ES2022 without DOM, exactOptionalPropertyTypes).
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { grantRoles, nodeClient, repoRoot, startKeyward, uniqueEmail } from "./harness.mjs";

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), "..");
const installed = JSON.parse(execFileSync("npm", ["ls", "--json", "--depth=0"], { cwd: packageRoot, encoding: "utf8" }));
/** The exact versions this package was tested with, so the install is served from npm's cache. */
const version = (name) => installed.dependencies[name].version;

let keyward;
let project;
/** What `npm install` of the tarball printed on stderr at `--loglevel=warn`. */
let installWarnings;

before(async () => {
  keyward = await startKeyward();
  project = mkdtempSync(join(tmpdir(), "keyward-package-"));
  execFileSync("npm", ["run", "--silent", "build"], { cwd: packageRoot, stdio: ["ignore", "ignore", "inherit"] });
  execFileSync("npm", ["pack", "--silent", "--pack-destination", project], { cwd: packageRoot, stdio: ["ignore", "ignore", "inherit"] });
  const tarball = readdirSync(project).find((name) => name.endsWith(".tgz"));
  assert.ok(tarball, "npm pack wrote no tarball");
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({
      name: "fresh-app",
      private: true,
      type: "module",
      dependencies: { "@keyward/client": `file:./${tarball}`, react: version("react"), "react-dom": version("react") },
      devDependencies: { "@types/node": version("@types/node"), "@types/react": version("@types/react") },
    }),
  );
  const install = spawnSync("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=warn"], { cwd: project, encoding: "utf8" });
  assert.equal(install.status, 0, `npm install failed:\n${install.stderr}`);
  installWarnings = install.stderr.trim();
});

after(async () => {
  await keyward?.stop();
  if (project) rmSync(project, { recursive: true, force: true });
});

/** Runs a script in the fresh project with plain `node` and returns what it printed as JSON. */
function runInProject(name, source, env = {}) {
  writeFileSync(join(project, name), source);
  return JSON.parse(execFileSync(process.execPath, [name], { cwd: project, encoding: "utf8", env: { ...process.env, ...env } }));
}

test("plain Node imports every entry point and getSession answers null, then plain JSON", () => {
  const email = `package-${Date.now().toString(36)}@example.com`;
  const result = runInProject(
    "check.mjs",
    `
import * as client from "@keyward/client";
import * as server from "@keyward/client/server";
import * as react from "@keyward/client/react";

const baseUrl = process.env.KEYWARD_TEST_URL;
const keyward = client.createKeywardClient({ baseUrl });
await keyward.auth.register({ email: ${JSON.stringify(email)}, password: "violet-otter-lamp-93", name: "Ada" });

// A browser's request without our cookie, with someone else's, and with a forged one.
const signedOut = await server.getSession({ baseUrl, headers: new Headers() });
const otherCookie = await server.getSession({ baseUrl, headers: new Headers({ cookie: "theme=dark" }) });
const forged = await server.getSession({ baseUrl, headers: { cookie: server.SESSION_COOKIE_NAME + "=not-a-session" } });

// Sign in the way a server action does, and read the session back from the cookie it set.
const { cookie, setCookie, session: fromSignIn } = await server.signIn.password({ baseUrl, email: ${JSON.stringify(email)}, password: "violet-otter-lamp-93" });
const headers = new Headers({ cookie: "theme=dark; " + cookie.name + "=" + cookie.value });
const session = await server.getSession({ baseUrl, headers });
const json = JSON.stringify(session); // throws on a bigint

// Signed out through the server helper: the same cookie is no session any more.
const signOut = await server.signOut({ baseUrl, headers });
const afterSignOut = await server.getSession({ baseUrl, headers });

// An outage is an error, not a sign-out.
let outage;
try {
  await server.getSession({ baseUrl: "http://127.0.0.1:9", headers });
} catch (error) {
  outage = { keyward: server.isKeywardError(error), reason: error.reason ?? null };
}

console.log(JSON.stringify({
  exports: {
    client: ["createKeywardClient", "signInWithPasskey", "KeywardError", "ErrorReason"].filter((n) => n in client),
    server: ["getSession", "signIn", "signOut", "verifyAccessToken", "SESSION_COOKIE_NAME"].filter((n) => n in server),
    react: ["SessionProvider", "useSession", "signIn", "signOut"].filter((n) => n in react),
  },
  signedOut, otherCookie, forged, session, json, sameAsSignIn: JSON.stringify(fromSignIn) === json,
  cookie: { name: cookie.name, httpOnly: cookie.httpOnly, sameSite: cookie.sameSite, path: cookie.path, maxAge: cookie.maxAge },
  setCookie, signOut, afterSignOut, outage, cookieName: server.SESSION_COOKIE_NAME,
}));
`,
    { KEYWARD_TEST_URL: keyward.origin },
  );

  assert.deepEqual(result.exports, {
    client: ["createKeywardClient", "signInWithPasskey", "KeywardError", "ErrorReason"],
    server: ["getSession", "signIn", "signOut", "verifyAccessToken", "SESSION_COOKIE_NAME"],
    react: ["SessionProvider", "useSession", "signIn", "signOut"],
  });
  assert.equal(result.signedOut, null);
  assert.equal(result.otherCookie, null);
  assert.equal(result.forged, null);

  const { user, session } = result.session;
  assert.equal(user.email.startsWith("package-"), true);
  assert.equal(user.name, "Ada");
  assert.equal(user.hasPassword, true);
  assert.equal(user.emailVerified, null);
  assert.equal(user.image, null);
  for (const time of [user.createdAt, session.createdAt, session.expiresAt, session.idleExpiresAt, session.absoluteExpiresAt]) {
    assert.match(time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, "ISO 8601 strings");
  }
  assert.equal(session.userId, user.id);
  assert.equal(session.expiresAt, [session.idleExpiresAt, session.absoluteExpiresAt].sort()[0]);
  assert.deepEqual(JSON.parse(result.json), result.session, "plain JSON, nothing lost");
  assert.equal(result.sameAsSignIn, true, "signIn.password returns the same session getSession reads");

  // The cookie Keyward set, under the one exported name, as the app must pass it on.
  const name = result.cookieName;
  assert.deepEqual(result.cookie, { name, httpOnly: true, sameSite: "lax", path: "/", maxAge: result.cookie.maxAge });
  assert.ok(result.cookie.maxAge > 0);
  assert.match(result.setCookie, new RegExp(`^${name}=[A-Za-z0-9_-]{43}; Path=/; Max-Age=\\d+; SameSite=Lax; Secure; HttpOnly$`));
  assert.equal(result.signOut.cookie.maxAge, 0);
  assert.match(result.signOut.setCookie, new RegExp(`^${name}=; .*Max-Age=0`));
  assert.equal(result.afterSignOut, null);
  assert.deepEqual(result.outage, { keyward: true, reason: null });
});

test("the packed declarations type-check in a DOM app and in a server-only project, skipLibCheck off", () => {
  const tsc = join(packageRoot, "node_modules", ".bin", "tsc");
  const common = {
    strict: true,
    noEmit: true,
    skipLibCheck: false,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    module: "NodeNext",
    moduleResolution: "NodeNext",
    target: "ES2022",
  };
  writeFileSync(
    join(project, "server-only.ts"),
    `
import { getSession, signIn, signOut, verifyAccessToken, hasReason, SESSION_COOKIE_NAME, type SessionData } from "@keyward/client/server";

export async function who(headers: Headers): Promise<string> {
  const session: SessionData | null = await getSession({ headers, cookieName: SESSION_COOKIE_NAME });
  return session ? (session.user.name ?? session.user.email) : "nobody";
}
export async function login(email: string, password: string) {
  try {
    return (await signIn.password({ email, password })).cookie;
  } catch (error) {
    if (hasReason(error, "INVALID_CREDENTIALS")) return undefined;
    throw error;
  }
}
export const out = (headers: Headers) => signOut({ headers }).then((r) => r.setCookie);
export const sub = async (token: string) => (await verifyAccessToken(token, { audience: "keyward" })).sub;
`,
  );
  writeFileSync(
    join(project, "browser.ts"),
    `
import { createKeywardClient, hasReason, signInWithPasskey, ErrorReason } from "@keyward/client";
import { SessionProvider, useSession, signIn, signOut } from "@keyward/client/react";
import { getSession } from "@keyward/client/server";

export const client = createKeywardClient({ baseUrl: "/keyward" });
export const reason: ErrorReason = ErrorReason.INVALID_CREDENTIALS;
export { SessionProvider, useSession, signIn, signOut, signInWithPasskey, hasReason, getSession };
`,
  );
  writeFileSync(
    join(project, "tsconfig.server.json"),
    JSON.stringify({ compilerOptions: { ...common, lib: ["ES2022"], types: ["node"] }, files: ["server-only.ts"] }),
  );
  writeFileSync(
    join(project, "tsconfig.dom.json"),
    JSON.stringify({ compilerOptions: { ...common, lib: ["ES2022", "DOM", "DOM.Iterable"], types: [] }, files: ["browser.ts"] }),
  );
  for (const config of ["tsconfig.server.json", "tsconfig.dom.json"]) {
    try {
      execFileSync(tsc, ["-p", config], { cwd: project, encoding: "utf8" });
    } catch (error) {
      assert.fail(`${config}: tsc failed:\n${error.stdout}${error.stderr}`);
    }
  }
});

test("the tarball installs with no warnings, runs no scripts, and carries README and LICENSE", () => {
  assert.equal(installWarnings, "", "npm install warned");
  const installed = join(project, "node_modules", "@keyward", "client");
  const manifest = JSON.parse(readFileSync(join(installed, "package.json"), "utf8"));
  const lifecycle = ["preinstall", "install", "postinstall", "prepare", "prepack", "postpack", "prepublish", "prepublishOnly"];
  assert.deepEqual(Object.keys(manifest.scripts ?? {}).filter((name) => lifecycle.includes(name)), [], "a lifecycle script ships");
  assert.ok(existsSync(join(installed, "README.md")) && existsSync(join(installed, "LICENSE")));
  assert.deepEqual(manifest.publishConfig, { access: "public" });
});

test("roles reach useSession, getSession, verifyAccessToken and the Python verifier", async (t) => {
  const lib = await nodeClient();
  const email = uniqueEmail("package-roles");
  const { signedIn } = await lib.createKeywardClient({ baseUrl: keyward.origin }).auth.register({ email, password: "violet-otter-lamp-93" });
  await grantRoles(keyward, signedIn.user.id, ["admin", "support"]);
  const result = runInProject(
    "roles.mjs",
    `
import { createElement } from "react";
import { renderToString } from "react-dom/server";
import { prerenderToNodeStream } from "react-dom/static";
import { createKeywardClient } from "@keyward/client";
import { getSession, hasRole, verifyAccessToken } from "@keyward/client/server";
import { SessionProvider, useSession } from "@keyward/client/react";

const baseUrl = process.env.KEYWARD_TEST_URL;
const { signedIn } = await createKeywardClient({ baseUrl }).auth.login({ email: ${JSON.stringify(email)}, password: "violet-otter-lamp-93" });
const session = await getSession({ baseUrl, headers: { cookie: "__Host-keyward_session=" + signedIn.sessionToken } });
const claims = await verifyAccessToken(signedIn.accessToken.token, { baseUrl, issuer: process.env.KEYWARD_TEST_ISSUER });

function Roles() {
  const { data } = useSession();
  return createElement("p", null, data.user.roles.join(",") + (hasRole(data, "admin") ? " admin" : ""));
}
const fromValue = renderToString(createElement(SessionProvider, { session }, createElement(Roles)));
// The Cache Components pattern: the provider gets the promise, useSession suspends until it settles.
const { prelude } = await prerenderToNodeStream(createElement(SessionProvider, { session: Promise.resolve(session) }, createElement(Roles)));
let fromPromise = "";
for await (const chunk of prelude) fromPromise += chunk;

console.log(JSON.stringify({ getSession: session.user.roles, claims: claims.roles, fromValue, fromPromise, token: signedIn.accessToken.token }));
`,
    { KEYWARD_TEST_URL: keyward.origin, KEYWARD_TEST_ISSUER: `http://127.0.0.1:${keyward.port}` },
  );
  assert.deepEqual(result.getSession, ["admin", "support"]);
  assert.deepEqual(result.claims, ["admin", "support"]);
  assert.equal(result.fromValue, "<p>admin,support admin</p>");
  assert.equal(result.fromPromise, "<p>admin,support admin</p>");

  const python = join(repoRoot, "clients", "python", ".venv", "bin", "python");
  if (!existsSync(python)) {
    t.diagnostic("the Python verifier needs clients/python/.venv (scripts/test makes it): not checked here");
    return;
  }
  const script = [
    "import json, sys",
    "from keyward_client import verify_access_token",
    "claims = verify_access_token(sys.argv[1], issuer=sys.argv[2])",
    "print(json.dumps({'roles': list(claims.roles), 'admin': claims.has_role('admin')}))",
  ].join("\n");
  const fromPython = JSON.parse(execFileSync(python, ["-c", script, result.token, `http://127.0.0.1:${keyward.port}`], { encoding: "utf8" }));
  assert.deepEqual(fromPython, { roles: ["admin", "support"], admin: true });
});
