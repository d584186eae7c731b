// The built-in /signin page in headless Chromium with a CDP virtual authenticator (CTAP2,
// platform, resident keys, user verification). Each step is checked twice: on what the page shows,
// and independently from this process with the browser's own session cookie (GetSession,
// ListPasskeys). Screenshots of every step land in test-artifacts/e2e/<scenario>/.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  addVirtualAuthenticator,
  clientWithBrowserCookie,
  launchBrowser,
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
async function openSignin(t, scenario) {
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const page = await browser.context.newPage();
  const pageErrors = [];
  page.on("pageerror", (error) => pageErrors.push(error));
  t.after(() => assert.deepEqual(pageErrors, [], "the page threw"));
  const authenticator = await addVirtualAuthenticator(page);
  await page.goto(`${keyward.origin}/signin`);
  await page.locator("#signed-out").waitFor();
  const keywardAsBrowser = () => clientWithBrowserCookie(browser.context, keyward.origin);
  return { page, authenticator, shot: screenshotter(page, scenario), keywardAsBrowser };
}

const statusText = (page) => page.locator("#status").textContent();
async function expectStatus(page, pattern) {
  await page.locator("#status").filter({ hasText: pattern }).waitFor();
  assert.match(await statusText(page), pattern);
  assert.equal(await page.locator("#error").isVisible(), false, `unexpected error: ${await page.locator("#error").textContent()}`);
}
async function expectError(page, pattern) {
  await page.locator("#error").filter({ hasText: pattern }).waitFor();
  assert.match(await page.locator("#error").textContent(), pattern);
}
async function expectSignedOut(page) {
  await page.locator("#signed-out").waitFor();
  assert.equal(await page.locator("#signed-in").isVisible(), false);
}
const passkeyNames = (page) => page.locator("#passkey-list .passkey-name").allTextContents();

test("password sign-up, sign-in and every error the forms can meet", async (t) => {
  const { page, shot, keywardAsBrowser } = await openSignin(t, "password");
  const email = uniqueEmail("page-pw");
  await shot("signed-out");

  // A common password is refused with the reason's message, next to nothing created.
  await page.locator("#signup-email").fill(email);
  await page.locator("#signup-password").fill("password123");
  await page.getByRole("button", { name: "Create account", exact: true }).click();
  await expectError(page, /too common or too easy to guess/);
  await shot("password-too-common");

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
  assert.equal(await page.locator("#session-id").textContent(), session.session.id);

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
  await shot("wrong-password");

  await page.locator("#signin-password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expectStatus(page, new RegExp(`Signed in as ${email.replace(/[.+]/g, "\\$&")}`));
  await shot("signed-in");
  const again = await (await keywardAsBrowser()).auth.getSession({});
  assert.equal(again.user.id, session.user.id);
  assert.notEqual(again.session.id, session.session.id);
});
