// The built-in /signin page in headless Chromium with a CDP virtual authenticator (CTAP2,
// platform, resident keys, user verification). Each step is checked twice: on what the page shows,
// and independently from this process with the browser's own session cookie (GetSession,
// ListPasskeys). Screenshots of every step land in test-artifacts/e2e/<scenario>/.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, test } from "node:test";
import {
  addVirtualAuthenticator,
  clientWithBrowserCookie,
  launchBrowser,
  makeSessionsStale,
  nodeClient,
  rejection,
  screenshotter,
  startKeyward,
  uniqueEmail,
} from "./harness.mjs";

const PASSWORD = "violet-otter-lamp-93";
let keyward;

before(async () => {
  keyward = await startKeyward();
});
after(async () => keyward?.stop());

/** A fresh browser profile with a virtual authenticator and the page open. */
async function openSignin(t, scenario, { withoutJsonHelpers = false, server = keyward } = {}) {
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const page = await browser.context.newPage();
  if (withoutJsonHelpers) {
    // A browser before WebAuthn Level 3's JSON helpers: the client's base64url fallback runs.
    await page.addInitScript(() => {
      delete PublicKeyCredential.parseCreationOptionsFromJSON;
      delete PublicKeyCredential.parseRequestOptionsFromJSON;
      delete PublicKeyCredential.prototype.toJSON;
    });
  }
  // Records the mediation of every navigator.credentials.create the page makes.
  await page.addInitScript(() => {
    const create = navigator.credentials.create.bind(navigator.credentials);
    window.__createMediations = [];
    navigator.credentials.create = (options) => {
      window.__createMediations.push(options?.mediation ?? "modal");
      return create(options);
    };
  });
  const pageErrors = [];
  page.on("pageerror", (error) => pageErrors.push(error));
  t.after(() => assert.deepEqual(pageErrors, [], "the page threw"));
  const authenticator = await addVirtualAuthenticator(page);
  await page.goto(`${server.origin}/signin`);
  await page.locator("#signed-out").waitFor();
  const keywardAsBrowser = () => clientWithBrowserCookie(browser.context, server.origin);
  return { page, authenticator, shot: screenshotter(page, scenario), keywardAsBrowser };
}

const statusText = (page) => page.locator("#status").textContent();
/** Waits for the status line to match — or for an error, which fails the test with its text. */
async function expectStatus(page, pattern) {
  await page.locator("#status").filter({ hasText: pattern }).or(page.locator("#error:visible")).first().waitFor();
  assert.equal(await page.locator("#error").isVisible(), false, `the page shows an error: ${await page.locator("#error").textContent()}`);
  assert.match(await statusText(page), pattern);
}
async function expectError(page, pattern) {
  await page.locator("#error").filter({ hasText: pattern }).waitFor();
  assert.match(await page.locator("#error").textContent(), pattern);
}
/** The field `id` is marked invalid, described by its message (matching `pattern`), and focused. */
async function expectFieldError(page, id, pattern) {
  const note = page.locator(`#${id}-error`);
  await note.filter({ hasText: pattern }).waitFor();
  assert.match(await note.textContent(), pattern);
  const input = page.locator(`#${id}`);
  assert.equal(await input.getAttribute("aria-invalid"), "true");
  assert.ok((await input.getAttribute("aria-describedby")).split(" ").includes(`${id}-error`));
  assert.equal(await page.evaluate(() => document.activeElement?.id), id, "focus is on the invalid field");
  assert.equal(await page.locator("#error").isVisible(), false, "a field error is shown at the field, not in the alert box");
}
async function expectSignedOut(page) {
  await page.locator("#signed-out").waitFor();
  assert.equal(await page.locator("#signed-in").isVisible(), false);
}
const passkeyNames = (page) => page.locator("#passkey-list .passkey-name").allTextContents();

test("password sign-up, sign-in and every error the forms can meet", async (t) => {
  const { page, shot, keywardAsBrowser } = await openSignin(t, "password");
  const email = uniqueEmail("page-pw");
  // No provider is configured: ListProviders is empty and the page shows no provider buttons.
  await page.locator("#providers[data-loaded]").waitFor({ state: "attached" });
  assert.equal(await page.locator("#providers").isVisible(), false);
  await shot("signed-out");

  // A common password is refused next to the field, with the reason's message; focus goes to
  // the field, which says it is invalid and what is wrong (aria-invalid, aria-describedby).
  await page.locator("#signup-email").fill(email);
  await page.locator("#signup-password").fill("password12345678");
  await page.getByRole("button", { name: "Create account", exact: true }).click();
  await expectFieldError(page, "signup-password", /too common or too easy to guess/);
  await shot("password-too-common");
  // Field reasons without a fixed message: the server's description, as a sentence.
  await page.locator("#signup-password").fill("short1");
  await page.getByRole("button", { name: "Create account", exact: true }).click();
  await expectFieldError(page, "signup-password", /^Password must be at least 15 characters\.$/);
  // An empty required field, in the other field of the form.
  await page.locator("#signup-email").fill("");
  await page.getByRole("button", { name: "Create account", exact: true }).click();
  await expectFieldError(page, "signup-email", /^Enter your email address\.$/);
  assert.equal(await page.locator("#signup-password").getAttribute("aria-invalid"), null, "the last attempt's error was cleared");
  await page.locator("#signup-email").fill(email);

  await page.locator("#signup-name").fill("Ada Lovelace");
  await page.locator("#signup-password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account", exact: true }).click();
  await expectStatus(page, /Welcome! Your account .* is ready\./);
  assert.equal(await page.locator("#session-email").textContent(), email);
  assert.equal(await page.locator("#session-name").textContent(), "Ada Lovelace");
  assert.equal(await page.locator("#session-password").textContent(), "set");
  await shot("signed-up");
  const session = await (await keywardAsBrowser()).auth.getSession({});
  assert.equal(session.user.email, email);
  // The page shows the account, never raw user or session ids.
  const shown = await page.locator("main").innerText();
  assert.ok(!shown.includes(session.user.id) && !shown.includes(session.session.id), "raw ids on the page");

  await page.getByRole("button", { name: "Sign out" }).click();
  await expectSignedOut(page);
  await expectStatus(page, /Signed out\./);
  const afterSignOut = await rejection(async () => (await keywardAsBrowser()).auth.getSession({}));
  assert.equal(afterSignOut.reason, "NOT_SIGNED_IN", "the sign-out cleared the cookie");

  // The same email again: EMAIL_TAKEN.
  await page.locator("#signup-email").fill(email);
  await page.locator("#signup-password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account", exact: true }).click();
  await expectError(page, /already exists\. Sign in instead/);

  // Wrong password: INVALID_CREDENTIALS, no hint whether the account exists.
  await page.locator("#signin-email").fill(email);
  await page.locator("#signin-password").fill("not-the-password-42");
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expectError(page, /don't match an account/);
  // Not about one field: the alert box says it and has focus.
  assert.equal(await page.evaluate(() => document.activeElement?.id), "error");
  await shot("wrong-password");

  await page.locator("#signin-password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expectStatus(page, new RegExp(`Signed in as ${escape(email)}`));
  assert.equal(await page.evaluate(() => document.activeElement?.id), "status", "focus is on the outcome");
  await shot("signed-in");
  const again = await (await keywardAsBrowser()).auth.getSession({});
  assert.equal(again.user.id, session.user.id);
  assert.notEqual(again.session.id, session.session.id);

  // Conditional create right after the password sign-in (this Chromium reports
  // conditionalCreate); the virtual authenticator never answers it, like a user who ignores the
  // offer. Adding a passkey by hand aborts it and works.
  await waitUntil(
    async () => (await page.evaluate(() => window.__createMediations)).includes("conditional"),
    "no conditional create after the password sign-in",
  );
  await page.getByRole("button", { name: "Add a passkey" }).click();
  await expectStatus(page, /Passkey “.+” added\./);
  assert.deepEqual(await page.evaluate(() => window.__createMediations), ["conditional", "modal"]);
  assert.equal((await (await keywardAsBrowser()).passkeys.listPasskeys({})).passkeys.length, 1);
});

test("a passkey deleted elsewhere: sign-in is refused and the authenticator is told to forget it", async (t) => {
  const { page, authenticator, shot, keywardAsBrowser } = await openSignin(t, "unknown-credential");
  const email = uniqueEmail("page-unknown");
  await page.locator("#signup-email").fill(email);
  await page.locator("#signup-password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account", exact: true }).click();
  await expectStatus(page, /Welcome!/);
  await page.getByRole("button", { name: "Add a passkey" }).click();
  await expectStatus(page, /added/);
  assert.equal((await authenticator.credentials()).length, 1);

  // Deleted from another device: this page's list is stale, the authenticator still has it.
  const keyward = await keywardAsBrowser();
  const [passkey] = (await keyward.passkeys.listPasskeys({})).passkeys;
  await keyward.passkeys.deletePasskey({ passkeyId: passkey.id });
  await page.getByRole("button", { name: "Sign out" }).click();
  await expectSignedOut(page);

  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expectError(page, /not registered here any more/);
  await shot("unknown-passkey-refused");
  assert.equal((await rejection(async () => (await keywardAsBrowser()).auth.getSession({}))).reason, "NOT_SIGNED_IN");
  // signalUnknownCredential: the authenticator dropped the credential Keyward no longer knows.
  await waitUntil(async () => (await authenticator.credentials()).length === 0, "the authenticator still offers the unknown passkey");
});

test("password account: add a passkey, sign in with it, rename it, delete it", async (t) => {
  const { page, authenticator, shot, keywardAsBrowser } = await openSignin(t, "password-then-passkey");
  const email = uniqueEmail("page-pk");

  await page.locator("#signup-email").fill(email);
  await page.locator("#signup-password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account", exact: true }).click();
  await expectStatus(page, /Welcome!/);
  const { user } = await (await keywardAsBrowser()).auth.getSession({});
  assert.equal(user.email, email);
  await shot("signed-up-with-password");

  // Add a passkey: the virtual authenticator now holds it, and Keyward lists it.
  await page.getByRole("button", { name: "Add a passkey" }).click();
  await expectStatus(page, /Passkey “.+” added\./);
  const [credential] = await authenticator.credentials();
  assert.ok(credential, "the authenticator holds no credential");
  assert.equal(credential.isResidentCredential, true);
  const listed = (await (await keywardAsBrowser()).passkeys.listPasskeys({})).passkeys;
  assert.equal(listed.length, 1);
  assert.equal(Buffer.from(listed[0].credentialId, "base64url").toString("base64"), credential.credentialId);
  assert.deepEqual(await passkeyNames(page), [listed[0].name]);
  await shot("passkey-added");

  await page.getByRole("button", { name: "Sign out" }).click();
  await expectSignedOut(page);
  const signedOut = await rejection(async () => (await keywardAsBrowser()).auth.getSession({}));
  assert.equal(signedOut.reason, "NOT_SIGNED_IN");
  await shot("signed-out");

  // The modal passkey sign-in (the email field is never touched, so autofill does not start).
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expectStatus(page, new RegExp(`Signed in with a passkey as ${escape(email)}`));
  const viaPasskey = await (await keywardAsBrowser()).auth.getSession({});
  assert.equal(viaPasskey.user.id, user.id);
  const used = (await (await keywardAsBrowser()).passkeys.listPasskeys({})).passkeys[0];
  assert.ok(used.lastUsedTime, "the sign-in did not record the passkey's use");
  assert.equal((await authenticator.credentials())[0].signCount > credential.signCount, true);
  await shot("signed-in-with-passkey");

  await page.getByRole("button", { name: `Rename passkey ${used.name}` }).click();
  await page.getByLabel("New name").fill("Work laptop");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await expectStatus(page, /Passkey renamed to “Work laptop”\./);
  assert.deepEqual(await passkeyNames(page), ["Work laptop"]);
  const renamed = (await (await keywardAsBrowser()).passkeys.listPasskeys({})).passkeys;
  assert.deepEqual(
    renamed.map((p) => p.name),
    ["Work laptop"],
  );
  await shot("renamed");

  // Renaming the user: Keyward stores it, and the page tells the authenticator through the
  // Signal API (signalCurrentUserDetails), which updates the name on the stored passkey.
  await page.locator("#profile-name").fill("Ada Lovelace");
  await page.getByRole("button", { name: "Save name" }).click();
  await expectStatus(page, /Name saved: Ada Lovelace\./);
  assert.equal((await (await keywardAsBrowser()).auth.getSession({})).user.name, "Ada Lovelace");
  await waitUntil(
    async () => (await authenticator.credentials())[0]?.userDisplayName === "Ada Lovelace",
    "the authenticator still shows the old name on the passkey",
  );
  await shot("user-renamed");

  // The account still has its password, so its only passkey may go.
  await page.getByRole("button", { name: "Delete passkey Work laptop" }).click();
  await expectStatus(page, /Passkey “Work laptop” deleted\./);
  // The list re-renders after the status line: wait for it rather than read it once.
  await page.locator("#passkeys-empty").waitFor({ state: "visible" });
  assert.deepEqual((await (await keywardAsBrowser()).passkeys.listPasskeys({})).passkeys, []);
  // Signal API: after listing, the page told the authenticator which credentials Keyward still
  // accepts (none), and the authenticator dropped the deleted one.
  await waitUntil(async () => (await authenticator.credentials()).length === 0, "the authenticator still holds the deleted passkey");
  await shot("deleted");

  await page.getByRole("button", { name: "Sign out" }).click();
  await expectSignedOut(page);
  assert.equal((await rejection(async () => (await keywardAsBrowser()).auth.getSession({}))).reason, "NOT_SIGNED_IN");
  await shot("signed-out-again");
});

test("passkey-only account: sign up with a passkey, last passkey is kept, autofill sign-in", async (t) => {
  const { page, authenticator, shot, keywardAsBrowser } = await openSignin(t, "passkey-only");
  const email = uniqueEmail("page-pkonly");

  await page.locator("#signup-name").fill("Grace Hopper");
  await page.locator("#signup-email").fill(email);
  await page.getByRole("button", { name: "Create account with a passkey" }).click();
  await expectStatus(page, /ready, with a passkey and no password/);
  assert.equal(await page.locator("#session-password").textContent(), "not set");
  const session = await (await keywardAsBrowser()).auth.getSession({});
  assert.equal(session.user.email, email);
  assert.equal(session.user.name, "Grace Hopper");
  assert.equal(session.user.hasPassword, false);
  const passkeys = (await (await keywardAsBrowser()).passkeys.listPasskeys({})).passkeys;
  assert.equal(passkeys.length, 1);
  assert.equal((await authenticator.credentials()).length, 1);
  await shot("signed-up-with-passkey");

  // Its only passkey is its only way in: deleting it is refused, with the reason's message.
  await page.getByRole("button", { name: `Delete passkey ${passkeys[0].name}` }).click();
  await expectError(page, /can't remove your only way to sign in/);
  assert.equal((await (await keywardAsBrowser()).passkeys.listPasskeys({})).passkeys.length, 1);
  assert.equal(await page.locator("#passkey-list li").count(), 1);
  await shot("delete-refused");

  await page.getByRole("button", { name: "Sign out" }).click();
  await expectSignedOut(page);
  await shot("signed-out");

  // Conditional UI: focusing the `username webauthn` field starts the conditional request; the
  // virtual authenticator answers it as a user picking the autofill suggestion would.
  assert.equal(await page.locator("#signin-email").getAttribute("autocomplete"), "username webauthn");
  await page.locator("#signin-email").focus();
  await expectStatus(page, new RegExp(`Signed in with a passkey as ${escape(email)}`));
  const viaAutofill = await (await keywardAsBrowser()).auth.getSession({});
  assert.equal(viaAutofill.user.id, session.user.id);
  assert.notEqual(viaAutofill.session.id, session.session.id);
  await shot("signed-in-with-autofill");
});

test("without WebAuthn's JSON helpers the base64url fallback runs the same ceremonies", async (t) => {
  const { page, authenticator, shot, keywardAsBrowser } = await openSignin(t, "json-fallback", { withoutJsonHelpers: true });
  assert.deepEqual(
    await page.evaluate(() => [
      typeof PublicKeyCredential.parseCreationOptionsFromJSON,
      typeof PublicKeyCredential.parseRequestOptionsFromJSON,
      typeof PublicKeyCredential.prototype.toJSON,
    ]),
    ["undefined", "undefined", "undefined"],
  );
  const email = uniqueEmail("page-fallback");
  await page.locator("#signup-email").fill(email);
  await page.getByRole("button", { name: "Create account with a passkey" }).click();
  await expectStatus(page, /ready, with a passkey and no password/);
  const { user } = await (await keywardAsBrowser()).auth.getSession({});
  assert.equal(user.email, email);
  assert.equal((await authenticator.credentials()).length, 1);

  await page.getByRole("button", { name: "Sign out" }).click();
  await expectSignedOut(page);
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expectStatus(page, new RegExp(`Signed in with a passkey as ${escape(email)}`));
  assert.equal((await (await keywardAsBrowser()).auth.getSession({})).user.id, user.id);
  await shot("signed-in-via-fallback");
});

async function waitUntil(condition, message, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(message);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function escape(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

test("return_to: signed in, the user lands back in the allowed app; other addresses are refused", async (t) => {
  // The app the user came from: a page on an origin the server allows (cors_allowed_origins).
  const app = createServer((request, response) => {
    response.writeHead(200, { "content-type": "text/html" });
    response.end(`<!doctype html><title>App</title><h1>Back in the app</h1><p id="path">${request.url}</p>`);
  });
  await new Promise((done) => app.listen(0, "127.0.0.1", done));
  t.after(() => app.close());
  const appOrigin = `http://localhost:${app.address().port}`;
  const server = await startKeyward({ KEYWARD_CORS_ALLOWED_ORIGINS: appOrigin });
  t.after(() => server.stop());
  const { createKeywardClient } = await nodeClient();
  const email = uniqueEmail("page-return");
  await createKeywardClient({ baseUrl: server.origin }).auth.register({ email, password: PASSWORD });

  const browser = await launchBrowser();
  t.after(() => browser.close());
  const page = await browser.context.newPage();
  const shot = screenshotter(page, "return-to");
  const target = `${appOrigin}/welcome?from=signin`;
  await page.goto(`${server.origin}/signin?return_to=${encodeURIComponent(target)}`);
  await page.locator("#return-note").filter({ hasText: `go back to localhost:${app.address().port}` }).waitFor();
  await shot("signin-with-return-to");
  await page.locator("#signin-email").fill(email);
  await page.locator("#signin-password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.waitForURL(target);
  assert.equal(await page.locator("#path").textContent(), "/welcome?from=signin");
  await shot("back-in-the-app");

  // Already signed in: the page sends the user straight back.
  await page.goto(`${server.origin}/signin?return_to=${encodeURIComponent(`${appOrigin}/again`)}`);
  await page.waitForURL(`${appOrigin}/again`);

  // Anywhere else: refused, said so, and the user stays on the page.
  for (const evil of ["https://evil.example/", "//evil.example/", `${appOrigin}.evil.example/`, "javascript:alert(1)"]) {
    await page.goto(`${server.origin}/signin?return_to=${encodeURIComponent(evil)}`);
    await page.locator("#return-note").filter({ hasText: "does not allow" }).waitFor();
    await page.locator("#signed-in").waitFor();
    assert.equal(new URL(page.url()).origin, server.origin, `${evil} was followed`);
  }
  await shot("refused-return-to");
});

test("a stale session adding a passkey is asked to confirm it's the user, then succeeds", async (t) => {
  // Its own server without the session cache, so a session made stale in the database is seen
  // as stale at once.
  const server = await startKeyward({ KEYWARD_SESSION_CACHE_TTL_MS: "0" });
  t.after(() => server.stop());
  const { page, authenticator, shot, keywardAsBrowser } = await openSignin(t, "reauthentication", { server });
  const email = uniqueEmail("page-reauth");
  await page.locator("#signup-email").fill(email);
  await page.locator("#signup-password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account", exact: true }).click();
  await expectStatus(page, /Welcome!/);

  // The sign-up was long ago, as far as the session knows.
  assert.equal(makeSessionsStale(server), 1);
  const stale = (await (await keywardAsBrowser()).auth.getSession({})).session;
  assert.equal(new Date(Number(stale.authenticateTime.seconds) * 1000).getUTCFullYear(), 2000);

  // Adding a passkey is refused by Keyward (REAUTHENTICATION_REQUIRED): the page asks first.
  await page.getByRole("button", { name: "Add a passkey" }).click();
  const dialog = page.getByRole("dialog", { name: "Confirm it's you" });
  await dialog.waitFor();
  assert.deepEqual(await authenticator.credentials(), [], "nothing was created before confirming");
  await shot("asked-to-confirm");

  // A wrong password: asked again, saying why.
  await dialog.getByLabel("Password").fill("not-the-password-42");
  await dialog.getByRole("button", { name: "Confirm" }).click();
  await dialog.locator("#reauth-error").filter({ hasText: /not correct/ }).waitFor();
  await shot("wrong-password");

  // The right one: the session is re-authenticated (no new session) and the passkey is added.
  await dialog.getByLabel("Password").fill(PASSWORD);
  await dialog.getByRole("button", { name: "Confirm" }).click();
  await expectStatus(page, /Passkey “.+” added\./);
  assert.equal(await dialog.isVisible(), false);
  assert.equal((await authenticator.credentials()).length, 1);
  const asBrowser = await keywardAsBrowser();
  assert.equal((await asBrowser.passkeys.listPasskeys({})).passkeys.length, 1);
  const sessions = (await asBrowser.auth.listSessions({})).sessions;
  assert.equal(sessions.length, 1, "re-authentication created no session");
  assert.equal(sessions[0].id, stale.id);
  assert.ok(Number(sessions[0].authenticateTime.seconds) > Number(stale.authenticateTime.seconds));
  await shot("passkey-added");

  // Stale again: deleting it asks too, and this time the passkey itself confirms.
  assert.equal(makeSessionsStale(server), 1);
  const [passkey] = await passkeyNames(page);
  await page.getByRole("button", { name: `Delete passkey ${passkey}` }).click();
  await dialog.waitFor();
  await dialog.getByRole("button", { name: "Use a passkey" }).click();
  await expectStatus(page, /Passkey “.+” deleted\./);
  assert.deepEqual((await (await keywardAsBrowser()).passkeys.listPasskeys({})).passkeys, []);
  await shot("deleted-after-passkey-confirmation");
});
