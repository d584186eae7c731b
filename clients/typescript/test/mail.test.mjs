// Forgot password and magic links on the built-in /signin page in headless Chromium, end to end:
// the page asks over grpc-web, Keyward's outbox mails the link over SMTP to a receiver this test
// runs, the test reads the link out of the mail and opens it in the browser.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { clientWithBrowserCookie, launchBrowser, nodeClient, screenshotter, startKeyward, uniqueEmail } from "./harness.mjs";
import { startSmtp } from "./smtp.mjs";

const PASSWORD = "violet-otter-lamp-93";
const NEW_PASSWORD = "quiet-harbor-tram-58";
let keyward;
let smtp;

before(async () => {
  smtp = await startSmtp();
  keyward = await startKeyward({ KEYWARD_EMAIL__SMTP_URL: smtp.url });
});
after(async () => {
  await keyward?.stop();
  await smtp?.close();
});

async function register(email) {
  const { createKeywardClient } = await nodeClient();
  await createKeywardClient({ baseUrl: keyward.origin }).auth.register({ email, password: PASSWORD, name: "" });
}

/** The `/signin?flow=…&token=…` link in `mail`. */
function linkIn(mail) {
  const link = /https?:\/\/\S+?flow=[a-z-]+&token=[A-Za-z0-9_-]+/.exec(mail.text)?.[0];
  assert.ok(link, `no link in ${mail.text}`);
  return link;
}

async function openSignin(t, scenario) {
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const page = await browser.context.newPage();
  const pageErrors = [];
  page.on("pageerror", (error) => pageErrors.push(error));
  t.after(() => assert.deepEqual(pageErrors, [], "the page threw"));
  await page.goto(`${keyward.origin}/signin`);
  await page.locator("#signed-out").waitFor();
  return { page, browser, shot: screenshotter(page, scenario) };
}

async function expectStatus(page, pattern) {
  await page.locator("#status").filter({ hasText: pattern }).or(page.locator("#error:visible")).first().waitFor();
  assert.equal(await page.locator("#error").isVisible(), false, `the page shows an error: ${await page.locator("#error").textContent()}`);
}

test("forgot password: the mailed link opens the reset form, and the new password signs in", async (t) => {
  const email = uniqueEmail("forgot");
  await register(email);
  const { page, shot } = await openSignin(t, "forgot-password");
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
  await smtp.waitFor(email, /password of your .* account was just changed/);

  await page.locator("#signin-email").fill(email);
  await page.locator("#signin-password").fill(NEW_PASSWORD);
  await page.locator("#signin-form button[type=submit]").click();
  await expectStatus(page, /Signed in as/);
  await shot("signed-in");
});

test("magic link: the mailed link signs the browser in with the session cookie", async (t) => {
  const email = uniqueEmail("magic");
  await register(email);
  const { page, browser, shot } = await openSignin(t, "magic-link");
  await page.locator("#signin-email").fill(email);
  await page.locator("#magic-link").click();
  await expectStatus(page, /a link is on its way/);
  await page.goto(linkIn(await smtp.waitFor(email, /flow=magic-link/)));
  await expectStatus(page, /Signed in as/);
  await page.locator("#signed-in").waitFor();
  await shot("signed-in");
  const asBrowser = await clientWithBrowserCookie(browser.context, keyward.origin);
  const session = await asBrowser.auth.getSession({});
  assert.equal(session.user.email, email);
  assert.ok(session.user.emailVerifyTime, "the link proved the address");
});
