// examples/nextjs for real: `next build` and `next start` against a real `keyward serve`, then
// headless Chromium: the proxy's redirect, password sign-in seen by the navbar of two tabs without
// a reload, the Server Component, sign-out in one tab signing out both, passkeys through the CDP
// virtual authenticator (button and autofill), a profile server action, and the no-JavaScript
// server-action sign-in; and Keyward's built-in page served by the app at /keyward/signin through
// its rewrite: sign-up (password and passkey), sign-in (password, passkey, autofill), verification,
// email change, passkey management, magic link and code, reset, with mailed links that point at
// the app's address (`signin.url`) and the configured product name. Also: roles in the Server
// Component and useSession, signOut({ redirectTo }), a session imported from an Auth.js database
// staying signed in, and the build with Cache Components. What the pages show is checked against
// Keyward itself with the browser's cookie. Screenshots land in test-artifacts/e2e/nextjs-*/.
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, test } from "node:test";
import {
  addVirtualAuthenticator,
  clientWithBrowserCookie,
  freePort,
  grantRoles,
  keywardBin,
  launchBrowser,
  nodeClient,
  rejection,
  repoRoot,
  screenshotter,
  startKeyward,
  uniqueEmail,
} from "./harness.mjs";
import { NEW_PASSWORD, codeIn, escape, expectCodeEntry, expectStatus, linkIn } from "./mail-page.mjs";
import { startSmtp } from "./smtp.mjs";

const example = join(repoRoot, "examples", "nextjs");
const PASSWORD = "violet-otter-lamp-93";
let keyward;
let smtp;
let next;
let app;
let lib;

/** `next start` of the built example on `port`, resolved once it says it is ready. */
async function startNext(port, env) {
  const child = spawn(join(example, "node_modules", ".bin", "next"), ["start", "-p", String(port), "-H", "127.0.0.1"], {
    cwd: example,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  const log = [];
  await new Promise((ready, fail) => {
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on("line", (line) => {
        log.push(line);
        if (/Ready in/.test(line)) ready();
      });
    }
    child.once("exit", (code) => fail(new Error(`next start exited with ${code}:\n${log.join("\n")}`)));
  });
  return {
    log,
    async stop() {
      process.off("exit", killOnExit);
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((done) => child.once("exit", done));
        child.kill("SIGTERM");
        await exited;
      }
    },
  };
}

before(async () => {
  assert.ok(existsSync(join(example, "node_modules", ".bin", "next")), "examples/nextjs has no node_modules: run `npm ci --prefix examples/nextjs`");
  const appPort = await freePort();
  app = `http://localhost:${appPort}`;
  // The app's origin is where passkey ceremonies happen and where grpc-web calls come from
  // (through the /keyward rewrite, the browser's Origin is the app's).
  // Mail goes to this process's SMTP receiver; its links point at the page as the app serves it.
  smtp = await startSmtp();
  keyward = await startKeyward({
    KEYWARD_RP_ORIGINS: app,
    KEYWARD_CORS_ALLOWED_ORIGINS: app,
    KEYWARD_EMAIL__SMTP_URL: smtp.url,
    KEYWARD_SIGNIN__URL: `${app}/keyward/signin`,
    // The page and the mails name the app's product, not Keyward.
    KEYWARD_SIGNIN__PRODUCT_NAME: "Acme Notes",
    KEYWARD_SIGNIN__ACCENT_COLOR: "#0f766e",
    KEYWARD_SIGNIN__SUPPORT_URL: "mailto:help@example.com",
  });
  const env = { ...process.env, KEYWARD_URL: `http://127.0.0.1:${keyward.port}`, NEXT_TELEMETRY_DISABLED: "1" };
  const started = Date.now();
  const built = spawnSync(join(example, "node_modules", ".bin", "next"), ["build"], { cwd: example, env, encoding: "utf8" });
  assert.equal(built.status, 0, `next build failed:\n${built.stdout}\n${built.stderr}`);
  // Built as a fresh create-next-app 16 app is, with Cache Components: the home page is a static
  // shell with the session streamed in (Partial Prerender), which the layout's pattern allows.
  assert.match(built.stdout, /◐ \/$/m, `not partially prerendered:\n${built.stdout}`);
  console.log(`next build of examples/nextjs took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  next = await startNext(appPort, env);
  lib = await nodeClient();
});

after(async () => {
  await next?.stop();
  await keyward?.stop();
  await smtp?.close();
});

/** A user made through Keyward's API (not through the app). */
async function newUser(prefix, name = "Ada") {
  const email = uniqueEmail(prefix);
  await lib.createKeywardClient({ baseUrl: keyward.origin }).auth.register({ email, password: PASSWORD, name });
  return email;
}

async function openBrowser(t, options) {
  const browser = await launchBrowser(options);
  t.after(() => browser.close());
  const pageErrors = [];
  browser.context.on("weberror", (error) => pageErrors.push(error.error()));
  t.after(() => assert.deepEqual(pageErrors, [], "a page threw"));
  return browser.context;
}

const navbar = (page) => page.getByTestId("session-status");
async function expectNavbar(page, text) {
  await navbar(page).filter({ hasText: text }).waitFor();
}

async function signInWithPassword(page, email) {
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
}

/** GetSession with the browser's cookie, straight against Keyward: the independent check. */
async function keywardSees(context) {
  const client = await clientWithBrowserCookie(context, app, keyward.origin);
  try {
    return (await client.auth.getSession({})).user.email;
  } catch (error) {
    return error.reason ?? String(error);
  }
}

test("signed out: /dashboard redirects to sign-in, and the session route says null", async (t) => {
  const context = await openBrowser(t);
  const page = await context.newPage();
  const shot = screenshotter(page, "nextjs-signed-out");
  await page.goto(`${app}/dashboard`);
  await page.waitForURL(`${app}/signin?return_to=%2Fdashboard`);
  await expectNavbar(page, "Signed out");
  await shot("redirected-to-signin");
  assert.equal(await (await page.request.get(`${app}/api/session`)).json(), null);
});

test("password sign-in shows in two tabs without a reload; sign-out in one signs out both", async (t) => {
  const context = await openBrowser(t);
  const email = await newUser("next-pw", "Ada");
  const [a, b] = [await context.newPage(), await context.newPage()];
  const [shotA, shotB] = [screenshotter(a, "nextjs-two-tabs-a"), screenshotter(b, "nextjs-two-tabs-b")];
  await a.goto(`${app}/dashboard`);
  await a.waitForURL(/\/signin\?return_to=%2Fdashboard$/);
  await b.goto(`${app}/`);
  await expectNavbar(b, "Signed out");
  await b.evaluate(() => (window.__sameDocument = true));
  await shotA("signin");
  await shotB("home-signed-out");

  await signInWithPassword(a, email);
  // Back where the user was going; the Server Component read the session itself.
  await a.waitForURL(`${app}/dashboard`);
  await a.getByTestId("server-user").filter({ hasText: "Ada" }).waitFor();
  await expectNavbar(a, "Signed in as Ada");
  // The other tab heard it on the BroadcastChannel and re-read the session: same document.
  await expectNavbar(b, "Signed in as Ada");
  assert.equal(await b.evaluate(() => window.__sameDocument), true, "the second tab reloaded");
  assert.equal(await keywardSees(context), email);
  assert.equal((await (await b.request.get(`${app}/api/session`)).json()).user.email, email);
  const cookie = (await context.cookies(app)).find((c) => c.name === lib.SESSION_COOKIE_NAME);
  assert.equal(cookie.httpOnly, true, "the session cookie is HttpOnly");
  await shotA("dashboard-signed-in");
  await shotB("home-signed-in-without-reload");

  await b.getByRole("button", { name: "Sign out" }).click();
  await expectNavbar(b, "Signed out");
  await expectNavbar(a, "Signed out");
  // The open dashboard noticed and left for the sign-in page.
  await a.waitForURL(/\/signin\?return_to=(%2F|\/)dashboard$/);
  assert.equal(await b.evaluate(() => window.__sameDocument), true);
  assert.equal(await keywardSees(context), "NOT_SIGNED_IN");
  await shotA("signed-out-by-the-other-tab");
  await shotB("signed-out");

  // The old cookie value is no session any more (Keyward ended it, not just the browser).
  const stale = await rejection(() =>
    lib.createKeywardClient({ baseUrl: keyward.origin, token: cookie.value }).auth.getSession({}),
  );
  assert.equal(stale.reason, "SESSION_INVALID");
});

test("a wrong password says so and moves focus to the message", async (t) => {
  const context = await openBrowser(t);
  const email = await newUser("next-wrong");
  const page = await context.newPage();
  await page.goto(`${app}/signin`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("not-the-password-42");
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  const alert = page.getByRole("alert");
  await alert.filter({ hasText: "don't match an account" }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.id), "signin-error");
  await screenshotter(page, "nextjs-wrong-password")("message");
});

test("passkeys: add one on the dashboard, then sign in with it by button and by autofill", async (t) => {
  const context = await openBrowser(t);
  const email = await newUser("next-passkey", "Grace");
  const page = await context.newPage();
  const authenticator = await addVirtualAuthenticator(page);
  const shot = screenshotter(page, "nextjs-passkey");

  await page.goto(`${app}/signin?return_to=/dashboard`);
  await signInWithPassword(page, email);
  await page.waitForURL(`${app}/dashboard`);
  await page.getByRole("button", { name: "Add a passkey" }).click();
  await page.getByTestId("passkey-message").filter({ hasText: "Passkey added" }).waitFor();
  assert.equal((await authenticator.credentials()).length, 1);
  await shot("passkey-added");

  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/\/signin/);
  await expectNavbar(page, "Signed out");
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await page.waitForURL(`${app}/dashboard`);
  await expectNavbar(page, "Signed in as Grace");
  assert.equal(await keywardSees(context), email);
  await shot("signed-in-with-passkey");

  // Passkey autofill: focusing the `username webauthn` field starts the conditional request,
  // which the virtual authenticator answers as a user picking the suggestion would.
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/\/signin/);
  assert.equal(await page.getByLabel("Email").getAttribute("autocomplete"), "username webauthn");
  await page.getByLabel("Email").focus();
  await page.waitForURL(`${app}/dashboard`);
  await expectNavbar(page, "Signed in as Grace");
  assert.equal(await keywardSees(context), email);
  await shot("signed-in-with-autofill");
});

test("a server action updates the profile: the Server Component and the navbar show it", async (t) => {
  const context = await openBrowser(t);
  const email = await newUser("next-profile", "Ada");
  const page = await context.newPage();
  await page.goto(`${app}/signin?return_to=/dashboard`);
  await signInWithPassword(page, email);
  await page.waitForURL(`${app}/dashboard`);
  await page.getByLabel("Display name").fill("Ada Lovelace");
  await page.getByRole("button", { name: "Save name" }).click();
  await page.getByText("Saved.").waitFor();
  await page.getByTestId("server-user").filter({ hasText: "Ada Lovelace" }).waitFor();
  await expectNavbar(page, "Signed in as Ada Lovelace");
  const client = await clientWithBrowserCookie(context, app, keyward.origin);
  assert.equal((await client.auth.getSession({})).user.name, "Ada Lovelace");
  await screenshotter(page, "nextjs-profile")("name-saved");
});

test("without JavaScript, the server action signs in and sets the session cookie", async (t) => {
  const context = await openBrowser(t, { javaScriptEnabled: false });
  const email = await newUser("next-nojs", "Hedy");
  const page = await context.newPage();
  await page.goto(`${app}/signin?return_to=/dashboard`);
  await signInWithPassword(page, email);
  await page.waitForURL(`${app}/dashboard`);
  await page.getByTestId("server-user").filter({ hasText: "Hedy" }).waitFor();
  const cookie = (await context.cookies(app)).find((c) => c.name === lib.SESSION_COOKIE_NAME);
  assert.deepEqual([cookie.httpOnly, cookie.sameSite, cookie.path], [true, "Lax", "/"]);
  assert.equal(await keywardSees(context), email);
  await screenshotter(page, "nextjs-no-javascript")("signed-in-by-the-server");

  // A wrong password comes back to the form with a message, still without JavaScript.
  await context.clearCookies();
  await page.goto(`${app}/signin?return_to=/dashboard`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("not-the-password-42");
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.waitForURL(/error=credentials/);
  await page.getByRole("alert").filter({ hasText: "don't match" }).waitFor();
});

// Keyward's built-in page through the app's rewrite: /keyward/signin on the app's origin.

/** A browser on the app's /keyward/signin that fails on any page error or failed request. */
async function openKeywardPage(t, scenario, { authenticator = false, path = "/keyward/signin" } = {}) {
  const context = await openBrowser(t);
  const page = await context.newPage();
  const failed = [];
  page.on("response", (response) => {
    if (response.status() >= 400) failed.push(`${response.status()} ${response.url()}`);
  });
  // A navigation away (back to the app) may cancel a request still in flight: not a failure.
  page.on("requestfailed", (request) => {
    if (request.failure()?.errorText !== "net::ERR_ABORTED") failed.push(`${request.failure()?.errorText} ${request.url()}`);
  });
  t.after(() => assert.deepEqual(failed, [], "a request of the page failed"));
  const virtual = authenticator ? await addVirtualAuthenticator(page) : undefined;
  await page.goto(`${app}${path}`);
  return { context, page, authenticator: virtual, shot: screenshotter(page, scenario) };
}

/** The mail to `email` whose link is for `flow`; its link is on the app's /keyward/signin. */
async function mailedLink(email, flow) {
  const mail = await smtp.waitFor(email, new RegExp(`flow=${flow}`));
  const link = linkIn(mail);
  assert.ok(link.startsWith(`${app}/keyward/signin?flow=${flow}&token=`), link);
  return { mail, link };
}

test("/keyward/signin through the rewrite: styled, password sign-up, verification link, passkey management", async (t) => {
  const { context, page, shot } = await openKeywardPage(t, "nextjs-keyward-page", { authenticator: true, path: "/signin" });
  // The app's own sign-in page links to the built-in one for everything else.
  await page.getByRole("link", { name: "More ways to sign in or create an account" }).click();
  await page.waitForURL(`${app}/keyward/signin?return_to=%2Fdashboard`);
  await page.locator("#signed-out").waitFor();
  // Its stylesheet came through the rewrite (an unstyled page has a full-width main).
  assert.notEqual(await page.locator("main").evaluate((main) => getComputedStyle(main).maxWidth), "none", "app.css did not load");
  // Branded: the product's name in the title and heading, its colour, its help link.
  assert.equal(await page.title(), "Sign in · Acme Notes");
  assert.equal(await page.getByRole("heading", { level: 1 }).textContent(), "Acme Notes");
  assert.equal(await page.getByRole("button", { name: "Sign in", exact: true }).evaluate((b) => getComputedStyle(b).backgroundColor), "rgb(15, 118, 110)");
  assert.equal(await page.getByRole("link", { name: "Need help?" }).getAttribute("href"), "mailto:help@example.com");
  await shot("signed-out");

  const email = uniqueEmail("next-page-signup");
  await page.locator("#signup-name").fill("Katherine");
  await page.locator("#signup-email").fill(email);
  await page.locator("#signup-password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account", exact: true }).click();
  // return_to=/dashboard: straight back to the app, signed in there too (one cookie).
  await page.waitForURL(`${app}/dashboard`);
  await page.getByTestId("server-user").filter({ hasText: "Katherine" }).waitFor();
  assert.equal(await keywardSees(context), email);

  // The dashboard's link to the account page: the verification banner, a mailed link.
  await page.getByRole("link", { name: "your account page" }).click();
  await page.waitForURL(`${app}/keyward/signin`);
  await page.locator("#verify-banner:not([hidden])").waitFor();
  await page.getByRole("button", { name: "Resend verification email" }).click();
  await expectStatus(page, /confirmation link is on its way/);
  const { link, mail } = await mailedLink(email, "verify-email");
  assert.match(mail.text, /Acme Notes/, "the mail names the product");
  await page.goto(link);
  await expectStatus(page, /is confirmed/);
  assert.equal(await page.locator("#verify-banner").isVisible(), false);
  await shot("verified");

  // Passkeys: add, rename, delete.
  await page.getByRole("button", { name: "Add a passkey" }).click();
  await expectStatus(page, /Passkey “.+” added\./);
  await page.getByRole("button", { name: /^Rename passkey/ }).click();
  await page.getByLabel("New name").fill("Work laptop");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await expectStatus(page, /renamed to “Work laptop”/);
  await shot("passkey-renamed");
  await page.getByRole("button", { name: "Delete passkey Work laptop" }).click();
  await expectStatus(page, /Passkey “Work laptop” deleted/);
  const client = await clientWithBrowserCookie(context, app, keyward.origin);
  assert.equal((await client.passkeys.listPasskeys({})).passkeys.length, 0);

  // Sign out on the page, then sign in with the password on it.
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.locator("#signed-out").waitFor();
  assert.equal(await keywardSees(context), "NOT_SIGNED_IN");
  await page.locator("#signin-email").fill(email);
  await page.locator("#signin-password").fill(PASSWORD);
  await page.locator("#signin-form button[type=submit]").click();
  await expectStatus(page, new RegExp(`Signed in as ${escape(email)}`));
  assert.equal(await keywardSees(context), email);

  // Email change: the link mailed to the new address opens the app's page too.
  const newEmail = uniqueEmail("next-page-moved");
  await page.locator("#new-email").fill(newEmail);
  await page.getByRole("button", { name: "Change email" }).click();
  await expectStatus(page, /a confirmation link is on its way there/);
  const moved = await mailedLink(newEmail, "change-email");
  await page.goto(moved.link);
  await expectStatus(page, new RegExp(`Your account now uses ${escape(newEmail)}`));
  assert.equal(await keywardSees(context), newEmail);
});

test("/keyward/signin through the rewrite: passkey sign-up, then sign-in with it", async (t) => {
  const { context, page, authenticator, shot } = await openKeywardPage(t, "nextjs-keyward-passkey", { authenticator: true });
  await page.locator("#signed-out").waitFor();
  const email = uniqueEmail("next-page-passkey");
  await page.locator("#signup-email").fill(email);
  await page.getByRole("button", { name: "Create account with a passkey" }).click();
  await expectStatus(page, /with a passkey and no password/);
  assert.equal(await page.title(), "Signed in · Acme Notes");
  assert.equal((await authenticator.credentials()).length, 1);
  assert.equal(await page.locator("#session-password").textContent(), "not set");
  await shot("signed-up");

  await page.getByRole("button", { name: "Sign out" }).click();
  await page.locator("#signed-out").waitFor();
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expectStatus(page, /Signed in with a passkey/);
  assert.equal(await keywardSees(context), email);

  // Passkey autofill: focusing the email field starts the conditional request.
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.locator("#signed-out").waitFor();
  await page.locator("#signin-email").focus();
  await expectStatus(page, new RegExp(`Signed in with a passkey as ${escape(email)}`));
  assert.equal(await keywardSees(context), email);
});

test("/keyward/signin through the rewrite: magic link, mailed code, and a password reset", async (t) => {
  const { context, page, shot } = await openKeywardPage(t, "nextjs-keyward-mail");
  await page.locator("#signed-out").waitFor();
  const email = await newUser("next-page-mail", "Mary");

  // A magic link: the mail's link opens the app's /keyward/signin and signs in.
  await page.locator("#signin-email").fill(email);
  await page.getByRole("button", { name: "Email me a sign-in link" }).click();
  await expectStatus(page, /a link is on its way/);
  const magic = await mailedLink(email, "magic-link");
  await page.goto(magic.link);
  await expectStatus(page, new RegExp(`Signed in as ${escape(email)}`));
  assert.doesNotMatch(page.url(), /token=/);
  assert.equal(await keywardSees(context), email);
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.locator("#signed-out").waitFor();

  // The same flow with the mail's six-digit code typed in.
  await page.locator("#signin-email").fill(email);
  await page.getByRole("button", { name: "Email me a sign-in link" }).click();
  await expectCodeEntry(page, /Sign in with the code/);
  const second = await smtp.waitFor(email, /flow=magic-link/, 1);
  await page.locator("#code-input").fill(codeIn(second));
  await page.locator("#code-submit").click();
  await expectStatus(page, new RegExp(`Signed in as ${escape(email)}`));
  await shot("signed-in-with-code");
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.locator("#signed-out").waitFor();

  // Forgot password: the link opens the reset form; the new password signs in and, with
  // return_to, goes back to the app's dashboard.
  await page.locator("#signin-email").fill(email);
  await page.getByRole("button", { name: "Forgot password?" }).click();
  await expectStatus(page, /a link is on its way/);
  const reset = await mailedLink(email, "reset-password");
  await page.goto(reset.link);
  await page.locator("#reset:not([hidden])").waitFor();
  await page.locator("#reset-password").fill(NEW_PASSWORD);
  await page.locator("#reset-form button[type=submit]").click();
  await expectStatus(page, /password was changed/);
  await shot("password-changed");
  await page.goto(`${app}/keyward/signin?return_to=/dashboard`);
  await page.locator("#signin-email").fill(email);
  await page.locator("#signin-password").fill(NEW_PASSWORD);
  await page.locator("#signin-form button[type=submit]").click();
  await page.waitForURL(`${app}/dashboard`);
  await page.getByTestId("server-user").filter({ hasText: "Mary" }).waitFor();
});

test("roles reach the Server Component and useSession; signOut({ redirectTo }) leaves for the sign-in page", async (t) => {
  const context = await openBrowser(t);
  const email = uniqueEmail("next-roles");
  const { signedIn } = await lib.createKeywardClient({ baseUrl: keyward.origin }).auth.register({ email, password: PASSWORD, name: "Ada" });
  await grantRoles(keyward, signedIn.user.id, ["admin", "billing"]);
  const page = await context.newPage();
  await page.goto(`${app}/signin?return_to=/dashboard`);
  await signInWithPassword(page, email);
  await page.waitForURL(`${app}/dashboard`);
  await page.getByTestId("server-roles").filter({ hasText: "admin, billing" }).waitFor();
  await page.getByTestId("admin-badge").waitFor();
  await screenshotter(page, "nextjs-roles")("roles");

  await page.goto(`${app}/`);
  await page.evaluate(() => (window.__sameDocument = true));
  await page.getByRole("button", { name: "Switch account" }).click();
  await page.waitForURL(`${app}/signin`);
  await expectNavbar(page, "Signed out");
  assert.equal(await page.evaluate(() => window.__sameDocument), undefined, "redirectTo is a full navigation");
  assert.equal(await keywardSees(context), "NOT_SIGNED_IN");
});

/**
 * An Auth.js database made by Auth.js's own @auth/pg-adapter (tests/authjs), imported into this
 * test's Keyward with `keyward import authjs`; undefined (with the reason logged) when there is no
 * PostgreSQL or no fixture here.
 */
async function importedAuthjs(t) {
  const base = process.env.TEST_DATABASE_URL;
  const fixture = join(repoRoot, "tests", "authjs");
  if (!base || !existsSync(join(fixture, "node_modules", "@auth", "pg-adapter"))) {
    t.diagnostic("needs TEST_DATABASE_URL and `npm ci --prefix tests/authjs`: not run here");
    return undefined;
  }
  const name = `kw_next_authjs_${process.pid}_${Date.now()}`;
  const url = new URL(base);
  execFileSync("psql", [base, "-qc", `CREATE DATABASE ${name}`]);
  t.after(() => execFileSync("psql", [base, "-qc", `DROP DATABASE ${name} WITH (FORCE)`]));
  url.pathname = `/${name}`;
  const seeded = JSON.parse(execFileSync("node", [join(fixture, "seed-pg-adapter.mjs"), url.href]).toString());
  execFileSync(keywardBin(), ["import", "authjs", "--from", url.href, "--data-dir", keyward.dataDir], {
    env: { ...process.env, KEYWARD_LOG: "error" },
  });
  return seeded;
}

test("a session imported from Auth.js stays signed in through the switch: Server Component and useSession", async (t) => {
  const seeded = await importedAuthjs(t);
  if (!seeded) return;
  const context = await openBrowser(t);
  // The browser as Auth.js left it: its database-session cookie, nothing of Keyward's.
  await context.addCookies([{ name: "authjs.session-token", value: seeded.sessions.adaLive, url: app, httpOnly: true, sameSite: "Lax" }]);
  const page = await context.newPage();
  await page.goto(`${app}/dashboard`);
  await page.getByTestId("server-user").filter({ hasText: "Ada Lovelace" }).waitFor();
  await expectNavbar(page, "Signed in as Ada Lovelace");
  // The proxy moved the session into Keyward's cookie and dropped the Auth.js one.
  const cookies = await context.cookies(app);
  assert.equal(cookies.find((c) => c.name === lib.SESSION_COOKIE_NAME)?.value, seeded.sessions.adaLive);
  assert.equal(cookies.find((c) => c.name === "authjs.session-token"), undefined);
  // The browser's own grpc-web calls see it now: Keyward with the browser's cookie, and the
  // provider's re-read when the tab becomes visible.
  assert.equal(await keywardSees(context), "ada@example.com");
  await page.evaluate(() => document.dispatchEvent(new Event("visibilitychange")));
  await expectNavbar(page, "Signed in as Ada Lovelace");
  await screenshotter(page, "nextjs-authjs-session")("signed-in-through-the-switch");

  await page.getByRole("button", { name: "Sign out" }).click();
  await expectNavbar(page, "Signed out");
  assert.equal(await keywardSees(context), "NOT_SIGNED_IN");
});
