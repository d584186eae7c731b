// What the /signin mail tests share: a keyward serve that mails to this process's SMTP receiver,
// the page open in Chromium, reading links and codes out of mails, and waiting on the page's
// status line or alert box (never on time).
import assert from "node:assert/strict";
import { addVirtualAuthenticator, clientWithBrowserCookie, launchBrowser, nodeClient, screenshotter, startKeyward } from "./harness.mjs";
import { startSmtp } from "./smtp.mjs";

export const PASSWORD = "violet-otter-lamp-93";
export const NEW_PASSWORD = "quiet-harbor-tram-58";

/** An SMTP receiver and a keyward serve mailing to it, with `env` settings on top. */
export async function startMailServer(env = {}) {
  const smtp = await startSmtp();
  // A server that fails to start must not leave the receiver listening (the test would hang).
  const keyward = await startKeyward({ KEYWARD_EMAIL__SMTP_URL: smtp.url, ...env }).catch(async (error) => {
    await smtp.close();
    throw error;
  });
  return {
    smtp,
    keyward,
    async stop() {
      await keyward.stop();
      await smtp.close();
    },
  };
}

/** Registers `email` with a password from this process (not through the page). */
export async function register(keyward, email) {
  const { createKeywardClient } = await nodeClient();
  await createKeywardClient({ baseUrl: keyward.origin }).auth.register({ email, password: PASSWORD, name: "" });
}

/** The `/signin?flow=…&token=…` link in `mail`. */
export function linkIn(mail) {
  const link = /https?:\/\/\S+?flow=[a-z-]+&token=[A-Za-z0-9_-]+/.exec(mail.text)?.[0];
  assert.ok(link, `no link in ${mail.text}`);
  return link;
}

/** The six-digit code in `mail` ("Or enter this code in the app: 123456", "enter this code: …"). */
export function codeIn(mail) {
  const code = /enter this code(?: in the app)?: ([0-9]{6})\b/.exec(mail.text)?.[1];
  assert.ok(code, `no code in ${mail.text}`);
  return code;
}

/** A six-digit code that is certainly not `code`. */
export function otherCode(code) {
  return String((Number(code) + 1) % 1_000_000).padStart(6, "0");
}

/** A fresh browser on `/signin` (with a virtual authenticator when asked); fails on page errors. */
export async function openSignin(t, keyward, scenario, { authenticator = false } = {}) {
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const page = await browser.context.newPage();
  const pageErrors = [];
  page.on("pageerror", (error) => pageErrors.push(error));
  t.after(() => assert.deepEqual(pageErrors, [], "the page threw"));
  const virtual = authenticator ? await addVirtualAuthenticator(page) : undefined;
  await page.goto(`${keyward.origin}/signin`);
  await page.locator("#signed-out").waitFor();
  const asBrowser = () => clientWithBrowserCookie(browser.context, keyward.origin);
  return { page, browser, authenticator: virtual, asBrowser, shot: screenshotter(page, scenario) };
}

/** Waits for the status line to match — or for an error, which fails the test with its text. */
export async function expectStatus(page, pattern) {
  await page.locator("#status").filter({ hasText: pattern }).or(page.locator("#error:visible")).first().waitFor();
  assert.equal(await page.locator("#error").isVisible(), false, `the page shows an error: ${await page.locator("#error").textContent()}`);
  assert.match(await page.locator("#status").textContent(), pattern);
}

export async function expectError(page, pattern) {
  await page.locator("#error").filter({ hasText: pattern }).waitFor();
  assert.match(await page.locator("#error").textContent(), pattern);
}

/** The error note under field `id`, which is marked invalid and focused. */
export async function expectFieldError(page, id, pattern) {
  await page.locator(`#${id}-error`).filter({ hasText: pattern }).waitFor();
  assert.equal(await page.locator(`#${id}`).getAttribute("aria-invalid"), "true");
  assert.equal(await page.evaluate(() => document.activeElement?.id), id, "focus is on the invalid field");
}

/** Signs in on the page with the password. */
export async function signInOnPage(page, email) {
  await page.locator("#signin-email").fill(email);
  await page.locator("#signin-password").fill(PASSWORD);
  await page.locator("#signin-form button[type=submit]").click();
  await expectStatus(page, /Signed in as/);
  await page.locator("#signed-in").waitFor();
}

/** The code field is shown, with `heading`; returns its form. */
export async function expectCodeEntry(page, heading) {
  const entry = page.locator("#code-entry:not([hidden])");
  await entry.waitFor();
  assert.match(await page.locator("#code-heading").textContent(), heading);
  assert.equal(await page.locator("#code-input").getAttribute("autocomplete"), "one-time-code");
  return entry;
}

export function escape(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
