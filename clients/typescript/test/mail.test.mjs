// Forgot password and magic links on the built-in /signin page in headless Chromium, end to end:
// the page asks over grpc-web, Keyward's outbox mails the link over SMTP to a receiver this test
// runs, the test reads the link (or the six-digit code) out of the mail and opens it in the
// browser (or types it into the page's code field).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { uniqueEmail } from "./harness.mjs";
import {
  NEW_PASSWORD,
  codeIn,
  escape,
  expectCodeEntry,
  expectFieldError,
  expectStatus,
  linkIn,
  openSignin,
  otherCode,
  register,
  startMailServer,
} from "./mail-page.mjs";

let server;
before(async () => {
  server = await startMailServer();
});
after(async () => server?.stop());

/** Signs in with the new password on the page. */
async function signInWith(page, email, password) {
  await page.locator("#signin-email").fill(email);
  await page.locator("#signin-password").fill(password);
  await page.locator("#signin-form button[type=submit]").click();
  await expectStatus(page, /Signed in as/);
}

test("forgot password: the mailed link opens the reset form, and the new password signs in", async (t) => {
  const { keyward, smtp } = server;
  const email = uniqueEmail("forgot");
  await register(keyward, email);
  const { page, shot } = await openSignin(t, keyward, "forgot-password");
  await page.locator("#signin-email").fill(email);
  await page.locator("#forgot-password").click();
  await expectStatus(page, /a link is on its way/);
  await shot("link-requested");

  const mail = await smtp.waitFor(email, /flow=reset-password/);
  const link = linkIn(mail);
  await page.goto(link);
  await page.locator("#reset:not([hidden])").waitFor();
  assert.doesNotMatch(page.url(), /token=/, "the token leaves the address bar");
  await page.locator("#reset-password").fill("short");
  await page.locator("#reset-form button[type=submit]").click();
  await page.locator("#reset-password-error").waitFor();
  await page.locator("#reset-password").fill(NEW_PASSWORD);
  await page.locator("#reset-form button[type=submit]").click();
  await expectStatus(page, /password was changed/);
  await shot("password-changed");
  await smtp.waitFor(email, /password of your .* account was changed/);

  await signInWith(page, email, NEW_PASSWORD);
  await shot("signed-in");
});

test("forgot password: the mailed code and a new password, typed on the page, reset it", async (t) => {
  const { keyward, smtp } = server;
  const email = uniqueEmail("forgot-code");
  await register(keyward, email);
  const { page, shot } = await openSignin(t, keyward, "forgot-password-code");
  await page.locator("#signin-email").fill(email);
  await page.locator("#forgot-password").click();
  // "Check your mail", and the code field with a new-password field, focused for the code.
  await expectStatus(page, /a link is on its way\. Check your mail/);
  await expectCodeEntry(page, /Reset your password/);
  assert.equal(await page.locator("#code-password").isVisible(), true);
  assert.equal(await page.evaluate(() => document.activeElement?.id), "code-input");
  await shot("code-field");

  const code = codeIn(await smtp.waitFor(email, /flow=reset-password/));
  // A wrong code is refused at the code field (one of the five tries), the right one works.
  await page.locator("#code-input").fill(otherCode(code));
  await page.locator("#code-password").fill(NEW_PASSWORD);
  await page.locator("#code-submit").click();
  await expectFieldError(page, "code-input", /code is not valid/);
  await shot("wrong-code");
  // A refused password leaves the code usable, and is said at its field.
  await page.locator("#code-input").fill(code);
  await page.locator("#code-password").fill("short");
  await page.locator("#code-submit").click();
  await expectFieldError(page, "code-password", /./);
  await page.locator("#code-password").fill(NEW_PASSWORD);
  await page.locator("#code-submit").click();
  await expectStatus(page, /password was changed/);
  assert.equal(await page.locator("#code-entry").isHidden(), true, "the code field is gone once used");
  await smtp.waitFor(email, /password of your .* account was changed/);
  await shot("password-changed");

  await signInWith(page, email, NEW_PASSWORD);
});

test("magic link: the mailed link signs the browser in with the session cookie", async (t) => {
  const { keyward, smtp } = server;
  const email = uniqueEmail("magic");
  await register(keyward, email);
  const { page, asBrowser, shot } = await openSignin(t, keyward, "magic-link");
  await page.locator("#signin-email").fill(email);
  await page.locator("#magic-link").click();
  await expectStatus(page, /a link is on its way/);
  await page.goto(linkIn(await smtp.waitFor(email, /flow=magic-link/)));
  await expectStatus(page, /Signed in as/);
  await page.locator("#signed-in").waitFor();
  await shot("signed-in");
  const session = await (await asBrowser()).auth.getSession({});
  assert.equal(session.user.email, email);
  assert.ok(session.user.emailVerifyTime, "the link proved the address");
});

test("magic link: the mailed code typed on the page signs the browser in", async (t) => {
  const { keyward, smtp } = server;
  const email = uniqueEmail("magic-code");
  await register(keyward, email);
  const { page, asBrowser, shot } = await openSignin(t, keyward, "magic-link-code");
  await page.locator("#signin-email").fill(email);
  await page.locator("#magic-link").click();
  await expectStatus(page, /a link is on its way\. Check your mail/);
  await expectCodeEntry(page, /Sign in with the code/);
  assert.equal(await page.locator("#code-password").isVisible(), false, "no password for a sign-in");
  // Not six digits: refused at the field before anything is counted.
  await page.locator("#code-input").fill("12ab");
  await page.locator("#code-submit").click();
  await expectFieldError(page, "code-input", /./);
  await page.locator("#code-input").fill(codeIn(await smtp.waitFor(email, /flow=magic-link/)));
  await page.locator("#code-submit").click();
  await expectStatus(page, new RegExp(`Signed in as ${escape(email)}`));
  await page.locator("#signed-in").waitFor();
  await shot("signed-in");
  const session = await (await asBrowser()).auth.getSession({});
  assert.equal(session.user.email, email);
  assert.ok(session.user.emailVerifyTime, "the code proved the address");
});
