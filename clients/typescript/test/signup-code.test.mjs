// Passkey-only sign-up on the built-in /signin page when the server has
// `require_email_verification` on, in headless Chromium with a virtual authenticator:
// StartPasskeySignUp mails a code (or, for a taken address, a note), the page asks for it before
// the authenticator runs, and FinishPasskeySignUp gets it. A taken address gets the same words on
// the page as a free one.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { rejection, uniqueEmail } from "./harness.mjs";
import {
  codeIn,
  escape,
  expectCodeEntry,
  expectError,
  expectFieldError,
  expectStatus,
  openSignin,
  register,
  startMailServer,
} from "./mail-page.mjs";

let server;
before(async () => {
  server = await startMailServer({ KEYWARD_REQUIRE_EMAIL_VERIFICATION: "true" });
});
after(async () => server?.stop());

/** Starts a passkey sign-up for `email` on the page; returns the status line's words. */
async function startSignUp(page, email) {
  await page.locator("#signup-email").fill(email);
  await page.getByRole("button", { name: "Create account with a passkey" }).click();
  await expectStatus(page, new RegExp(`A code is on its way to ${escape(email)}`));
  await expectCodeEntry(page, /Finish creating your account/);
  assert.equal(await page.evaluate(() => document.activeElement?.id), "code-input");
  return (await page.locator("#status").textContent()).replace(email, "<address>");
}

test("passkey sign-up under require_email_verification: the mailed code finishes it", async (t) => {
  const { page, authenticator, asBrowser, shot } = await openSignin(t, server.keyward, "signup-code", { authenticator: true });
  const email = uniqueEmail("signup-code");
  await page.locator("#signup-name").fill("Ada Lovelace");

  // Cancelled: nothing is created, nothing is said, and the button works again.
  await startSignUp(page, email);
  await page.getByRole("button", { name: "Cancel" }).click();
  await page.locator("#code-entry[hidden]").waitFor({ state: "attached" });
  assert.equal(await page.locator("#error").isVisible(), false);
  assert.equal(await page.locator("#passkey-signup").isEnabled(), true);
  assert.deepEqual(await authenticator.credentials(), [], "no passkey before the code");
  // Its mail arrives before the next one is asked for, so the next code is the second mail's.
  await server.smtp.waitFor(email, /enter this code/);

  await startSignUp(page, email);
  await shot("code-asked");
  // Not six digits: said at the field before the authenticator runs or the ceremony is spent.
  await page.locator("#code-input").fill("12345");
  await page.locator("#code-submit").click();
  await expectFieldError(page, "code-input", /6-digit code/);
  assert.deepEqual(await authenticator.credentials(), []);

  // The second mail's code: the cancelled ceremony's code belongs to that ceremony only.
  const code = codeIn(await server.smtp.waitFor(email, /enter this code/, 1));
  await page.locator("#code-input").fill(code);
  await page.locator("#code-submit").click();
  await expectStatus(page, /ready, with a passkey and no password/);
  await page.locator("#signed-in").waitFor();
  assert.equal(await page.locator("#verify-banner").isHidden(), true, "the code proved the address");
  await shot("signed-up");

  const session = await (await asBrowser()).auth.getSession({});
  assert.equal(session.user.email, email);
  assert.equal(session.user.name, "Ada Lovelace");
  assert.equal(session.user.hasPassword, false);
  assert.ok(session.user.emailVerifyTime, "the account's address is verified");
  assert.equal((await authenticator.credentials()).length, 1);
});

test("passkey sign-up for a taken address: the same words on the page, and no code works", async (t) => {
  const { page, asBrowser, shot } = await openSignin(t, server.keyward, "signup-code-taken", { authenticator: true });
  const free = uniqueEmail("signup-free");
  const taken = uniqueEmail("signup-taken");
  await register(server.keyward, taken);

  const forFree = await startSignUp(page, free);
  await page.getByRole("button", { name: "Cancel" }).click();
  const forTaken = await startSignUp(page, taken);
  assert.equal(forTaken, forFree, "the page says the same for a taken address as for a free one");

  // The mail says the address has an account; whatever code is typed, the sign-up is refused.
  await server.smtp.waitFor(taken, /you already have one/);
  await page.locator("#code-input").fill("123456");
  await page.locator("#code-submit").click();
  await expectError(page, /That code is not valid/);
  await shot("refused");
  await page.locator("#signed-out").waitFor();
  const refused = await rejection(async () => (await asBrowser()).auth.getSession({}));
  assert.equal(refused.reason, "NOT_SIGNED_IN", "no account was created and nobody is signed in");
});
