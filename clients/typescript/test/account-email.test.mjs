// The signed-in user's address on the built-in /signin page in headless Chromium: the banner for
// an unconfirmed address ("Resend verification email", its throttle, a session that ended) and
// the change-email form (with "Confirm it's you" for a stale session), each finished both by the
// mailed link and by the mailed code, the mail read from this process's SMTP receiver.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { makeSessionsStale, uniqueEmail } from "./harness.mjs";
import {
  PASSWORD,
  codeIn,
  escape,
  expectCodeEntry,
  expectError,
  expectStatus,
  linkIn,
  openSignin,
  register,
  signInOnPage,
  startMailServer,
} from "./mail-page.mjs";

let server;
before(async () => {
  // No session cache: a session made stale in the database is stale at once.
  server = await startMailServer({ KEYWARD_SESSION_CACHE_TTL_MS: "0" });
});
after(async () => server?.stop());

/** A registered user signed in on a fresh page, with the banner showing. */
async function signedInUnverified(t, scenario, mailServer = server) {
  const email = uniqueEmail(scenario);
  await register(mailServer.keyward, email);
  const opened = await openSignin(t, mailServer.keyward, scenario);
  await signInOnPage(opened.page, email);
  await opened.page.locator("#verify-banner:not([hidden])").waitFor();
  assert.equal(await opened.page.locator("#verify-address").textContent(), email);
  return { email, ...opened };
}

async function resend(page, email) {
  await page.getByRole("button", { name: "Resend verification email" }).click();
  await expectStatus(page, new RegExp(`confirmation link is on its way to ${escape(email)}`));
}

test("unverified banner: resend mails a link, and following it confirms the address", async (t) => {
  const { email, page, asBrowser, shot } = await signedInUnverified(t, "verify-link");
  await shot("banner");
  await resend(page, email);
  await expectCodeEntry(page, /Confirm your address/);
  await page.goto(linkIn(await server.smtp.waitFor(email, /flow=verify-email/)));
  await expectStatus(page, new RegExp(`${escape(email)} is confirmed`));
  await page.locator("#signed-in").waitFor();
  assert.equal(await page.locator("#verify-banner").isHidden(), true, "no banner for a confirmed address");
  await shot("confirmed");
  assert.ok((await (await asBrowser()).auth.getSession({})).user.emailVerifyTime);
});

test("unverified banner: the mailed code typed on the page confirms the address", async (t) => {
  const { email, page, asBrowser, shot } = await signedInUnverified(t, "verify-code");
  await resend(page, email);
  await expectCodeEntry(page, /Confirm your address/);
  assert.equal(await page.evaluate(() => document.activeElement?.id), "code-input");
  await page.locator("#code-input").fill(codeIn(await server.smtp.waitFor(email, /flow=verify-email/)));
  await page.locator("#code-submit").click();
  await expectStatus(page, new RegExp(`${escape(email)} is confirmed`));
  await page.locator("#verify-banner[hidden]").waitFor({ state: "attached" });
  assert.equal(await page.locator("#code-entry").isHidden(), true);
  await shot("confirmed");
  assert.ok((await (await asBrowser()).auth.getSession({})).user.emailVerifyTime);
});

test("unverified banner: a throttled resend and an ended session are said in the page's words", async (t) => {
  // Per-address mail budget of one: the second resend within the minute is RATE_LIMITED.
  const strict = await startMailServer({
    KEYWARD_RATE_LIMITS__ENABLED: "true",
    KEYWARD_RATE_LIMITS__EMAIL_ADDRESS__BURST: "1",
    KEYWARD_RATE_LIMITS__EMAIL_ADDRESS__PER_MINUTE: "1",
  });
  t.after(() => strict.stop());
  const { email, page, asBrowser, shot } = await signedInUnverified(t, "verify-throttled", strict);
  await resend(page, email);
  await strict.smtp.waitFor(email, /flow=verify-email/);
  await page.getByRole("button", { name: "Resend verification email" }).click();
  await expectError(page, /^Too many attempts\. Wait a little and try again\.$/);
  assert.equal(await page.evaluate(() => document.activeElement?.id), "error");
  await shot("throttled");

  // The session ends elsewhere (signed out with the same cookie): the next resend says so.
  await (await asBrowser()).auth.logout({});
  await page.getByRole("button", { name: "Resend verification email" }).click();
  await expectError(page, /^Your session has ended\. Sign in again\.$/);
  await shot("session-ended");
});

test("change email: the link mailed to the new address moves the account there", async (t) => {
  const { email, page, asBrowser, shot } = await signedInUnverified(t, "change-email-link");
  const taken = uniqueEmail("change-email-taken");
  await register(server.keyward, taken);
  const newEmail = uniqueEmail("change-email-new");

  // An address another account has: the same answer as a free one (no mail goes out for it).
  await page.locator("#new-email").fill(taken);
  await page.getByRole("button", { name: "Change email" }).click();
  await expectStatus(page, /a confirmation link is on its way there/);
  const forTaken = (await page.locator("#status").textContent()).replace(taken, "<address>");
  await expectCodeEntry(page, /Confirm the new address/);

  await page.locator("#new-email").fill(newEmail);
  await page.getByRole("button", { name: "Change email" }).click();
  await expectStatus(page, /a confirmation link is on its way there/);
  assert.equal((await page.locator("#status").textContent()).replace(newEmail, "<address>"), forTaken);
  await shot("change-requested");

  const mail = await server.smtp.waitFor(newEmail, /flow=change-email/);
  await server.smtp.waitFor(email, new RegExp(`asked to change its email address to\\s+${escape(newEmail)}`));
  await page.goto(linkIn(mail));
  await expectStatus(page, new RegExp(`Your account now uses ${escape(newEmail)}`));
  await page.locator("#session-email").filter({ hasText: newEmail }).waitFor();
  assert.equal(await page.locator("#verify-banner").isHidden(), true, "the new address is confirmed");
  await shot("changed");
  const session = await (await asBrowser()).auth.getSession({});
  assert.equal(session.user.email, newEmail);
  assert.ok(session.user.emailVerifyTime);
  assert.equal(
    server.smtp.mails.some((m) => m.to.includes(taken) && /flow=change-email/.test(m.text)),
    false,
    "nothing was mailed to the taken address",
  );
});

test("change email from a stale session: confirm it's you, then the mailed code moves the account", async (t) => {
  const { email, page, asBrowser, shot } = await signedInUnverified(t, "change-email-code");
  const newEmail = uniqueEmail("change-email-code-new");
  assert.ok(makeSessionsStale(server.keyward) >= 1);

  // Invalid input is said at the field.
  await page.locator("#new-email").fill("not-an-address");
  await page.getByRole("button", { name: "Change email" }).click();
  await page.locator("#new-email-error").waitFor();
  assert.equal(await page.locator("#new-email").getAttribute("aria-invalid"), "true");

  // RequestEmailChange answers REAUTHENTICATION_REQUIRED: the page asks, then sends it again.
  await page.locator("#new-email").fill(newEmail);
  await page.getByRole("button", { name: "Change email" }).click();
  const dialog = page.getByRole("dialog", { name: "Confirm it's you" });
  await dialog.waitFor();
  await shot("asked-to-confirm");
  await dialog.getByLabel("Password").fill(PASSWORD);
  await dialog.getByRole("button", { name: "Confirm" }).click();
  await expectStatus(page, /a confirmation link is on its way there/);
  await expectCodeEntry(page, /Confirm the new address/);
  assert.match(await page.locator("#code-sent-to").textContent(), new RegExp(escape(newEmail)));

  await page.locator("#code-input").fill(codeIn(await server.smtp.waitFor(newEmail, /flow=change-email/)));
  await page.locator("#code-submit").click();
  await expectStatus(page, new RegExp(`Your account now uses ${escape(newEmail)}`));
  await page.locator("#session-email").filter({ hasText: newEmail }).waitFor();
  await shot("changed");
  const session = await (await asBrowser()).auth.getSession({});
  assert.equal(session.user.email, newEmail);
  assert.notEqual(session.user.email, email);
});
