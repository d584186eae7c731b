// Provider sign-in on /signin against a fake GitHub (authorize → token with PKCE → /user,
// /user/emails) served by this process: the button comes from ListProviders, the browser makes
// the real round-trip, and the callback lands on /signin, which finishes it with OAuthCallback.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { after, before, test } from "node:test";
import { clientWithBrowserCookie, launchBrowser, rejection, screenshotter, startKeyward } from "./harness.mjs";

const CLIENT_ID = "fake-github-client";
const CLIENT_SECRET = "fake-github-secret";
const GITHUB_USER = { id: 4242, login: "octocat", name: "Octo Cat", avatar_url: "" };
const GITHUB_EMAIL = `octocat-${Date.now().toString(36)}@example.com`;

/** Just enough of GitHub's OAuth app flow and REST API, with the checks GitHub makes. */
async function fakeGitHub() {
  const codes = new Map();
  const tokens = new Set();
  const server = createServer(async (request, response) => {
    const url = new URL(request.url, "http://127.0.0.1");
    const json = (status, body) => {
      response.writeHead(status, { "content-type": "application/json" });
      response.end(JSON.stringify(body));
    };
    if (url.pathname === "/login/oauth/authorize") {
      assert.equal(url.searchParams.get("client_id"), CLIENT_ID);
      assert.equal(url.searchParams.get("code_challenge_method"), "S256");
      const code = randomBytes(16).toString("hex");
      codes.set(code, { challenge: url.searchParams.get("code_challenge"), redirectUri: url.searchParams.get("redirect_uri") });
      const back = new URL(url.searchParams.get("redirect_uri"));
      back.searchParams.set("code", code);
      back.searchParams.set("state", url.searchParams.get("state"));
      response.writeHead(302, { location: back.toString() });
      return response.end();
    }
    if (url.pathname === "/login/oauth/access_token" && request.method === "POST") {
      let body = "";
      for await (const chunk of request) body += chunk;
      const form = new URLSearchParams(body);
      const basic = (request.headers.authorization ?? "").replace(/^Basic /, "");
      const [id, secret] = basic
        ? Buffer.from(basic, "base64").toString().split(":").map(decodeURIComponent)
        : [form.get("client_id"), form.get("client_secret")];
      const issued = codes.get(form.get("code"));
      codes.delete(form.get("code"));
      const verifier = form.get("code_verifier") ?? "";
      const challenge = createHash("sha256").update(verifier).digest("base64url");
      if (id !== CLIENT_ID || secret !== CLIENT_SECRET || !issued || issued.challenge !== challenge || issued.redirectUri !== form.get("redirect_uri")) {
        return json(400, { error: "bad_verification_code" });
      }
      const token = randomBytes(16).toString("hex");
      tokens.add(token);
      return json(200, { access_token: token, token_type: "bearer", scope: "read:user,user:email" });
    }
    const token = (request.headers.authorization ?? "").replace(/^Bearer /, "");
    if (!tokens.has(token)) return json(401, { message: "Bad credentials" });
    if (url.pathname === "/user") return json(200, GITHUB_USER);
    if (url.pathname === "/user/emails") {
      return json(200, [
        { email: "old@example.org", primary: false, verified: true, visibility: null },
        { email: GITHUB_EMAIL, primary: true, verified: true, visibility: "public" },
      ]);
    }
    json(404, { message: "Not Found" });
  });
  await new Promise((done) => server.listen(0, "127.0.0.1", done));
  return { server, base: `http://127.0.0.1:${server.address().port}` };
}

let github;
let keyward;

before(async () => {
  github = await fakeGitHub();
  keyward = await startKeyward(({ origin }) => ({
    KEYWARD_OAUTH__REDIRECT_URIS: `${origin}/signin`,
    KEYWARD_OAUTH__GITHUB__CLIENT_ID: CLIENT_ID,
    KEYWARD_OAUTH__GITHUB__CLIENT_SECRET: CLIENT_SECRET,
    KEYWARD_OAUTH__GITHUB__AUTHORIZATION_URL: `${github.base}/login/oauth/authorize`,
    KEYWARD_OAUTH__GITHUB__TOKEN_URL: `${github.base}/login/oauth/access_token`,
    KEYWARD_OAUTH__GITHUB__API_URL: github.base,
  }));
});
after(async () => {
  await keyward?.stop();
  github?.server.close();
});

test("sign up and sign in with a provider button; a forged callback is stopped", async (t) => {
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const page = await browser.context.newPage();
  const shot = screenshotter(page, "provider");
  const asBrowser = () => clientWithBrowserCookie(browser.context, keyward.origin);

  await page.goto(`${keyward.origin}/signin`);
  const button = page.getByRole("button", { name: "Continue with GitHub" });
  await button.waitFor();
  await shot("provider-button");

  await button.click();
  await page.locator("#status").filter({ hasText: "Welcome! Your account was created with github." }).waitFor();
  assert.equal(new URL(page.url()).search, "", "code and state stay in the address bar");
  assert.equal(await page.locator("#session-email").textContent(), GITHUB_EMAIL);
  assert.equal(await page.locator("#session-name").textContent(), "Octo Cat");
  const first = await (await asBrowser()).auth.getSession({});
  assert.equal(first.user.email, GITHUB_EMAIL);
  assert.equal(first.user.hasPassword, false);
  assert.equal(await page.locator("#session-password").textContent(), "not set");
  await shot("signed-up-with-github");

  await page.getByRole("button", { name: "Sign out" }).click();
  await page.locator("#signed-out").waitFor();
  await page.getByRole("button", { name: "Continue with GitHub" }).click();
  await page.locator("#status").filter({ hasText: "Signed in with github." }).waitFor();
  const second = await (await asBrowser()).auth.getSession({});
  assert.equal(second.user.id, first.user.id);
  assert.notEqual(second.session.id, first.session.id);
  await shot("signed-in-with-github");

  // A callback this tab did not start (login CSRF) is refused before it reaches Keyward.
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.locator("#signed-out").waitFor();
  await page.goto(`${keyward.origin}/signin?code=stolen&state=forged`);
  await page.locator("#error").filter({ hasText: "was not started from this page" }).waitFor();
  assert.equal((await rejection(async () => (await asBrowser()).auth.getSession({}))).reason, "NOT_SIGNED_IN");
  await shot("forged-callback-refused");
});

test("return_to survives the round-trip to the provider", async (t) => {
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const page = await browser.context.newPage();
  // The provider sends the browser back to /signin exactly (a registered redirect URI), without
  // the query: the page kept return_to for this tab and follows it once signed in.
  await page.goto(`${keyward.origin}/signin?return_to=${encodeURIComponent("/healthz?after=github")}`);
  await page.locator("#return-note").filter({ hasText: "go back to" }).waitFor();
  await page.getByRole("button", { name: "Continue with GitHub" }).click();
  await page.waitForURL(`${keyward.origin}/healthz?after=github`);
  assert.equal((await (await clientWithBrowserCookie(browser.context, keyward.origin)).auth.getSession({})).user.email, GITHUB_EMAIL);
});
