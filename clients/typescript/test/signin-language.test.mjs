// The built-in /signin page in headless Chromium with a German browser (locale de-DE, so its
// Accept-Language asks for German): the page is German, says so in <html lang>, carries the
// configured product name in its title, and its script runs on the translated markup.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { launchBrowser, startKeyward } from "./harness.mjs";

let keyward;

before(async () => {
  keyward = await startKeyward({ KEYWARD_SIGNIN__PRODUCT_NAME: "Acme Notes" });
});
after(async () => keyward?.stop());

for (const { locale, lang, title, signIn, forgot } of [
  { locale: "de-DE", lang: "de", title: "Anmelden · Acme Notes", signIn: "Anmelden", forgot: "Passwort vergessen?" },
  { locale: "en-US", lang: "en", title: "Sign in · Acme Notes", signIn: "Sign in", forgot: "Forgot password?" },
]) {
  test(`a ${locale} browser gets the page in its language`, async (t) => {
    const browser = await launchBrowser({ locale });
    t.after(() => browser.close());
    const page = await browser.context.newPage();
    const pageErrors = [];
    page.on("pageerror", (error) => pageErrors.push(error));
    await page.goto(`${keyward.origin}/signin`);
    // Shown by the script once it has asked the server who is signed in: it ran.
    await page.locator("#signed-out").waitFor();
    assert.equal(await page.title(), title);
    assert.equal(await page.locator("html").getAttribute("lang"), lang);
    assert.equal((await page.locator("#signin-heading").textContent()).trim(), signIn);
    assert.equal((await page.locator("#forgot-password").textContent()).trim(), forgot);
    assert.equal((await page.locator("#product-name").textContent()).trim(), "Acme Notes");
    assert.deepEqual(pageErrors, [], "the page threw");
  });
}
