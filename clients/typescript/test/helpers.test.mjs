// The typed helpers against a real `keyward serve`: roles an operator gives a user (through
// AdminService with an API key from `keyward admin keys create`) reach getSession's SessionUser,
// verifyAccessToken's claims and hasRole; the server helpers for sign-up, magic link (by code),
// password reset, verification and passkeys, each checked against Keyward itself; and the
// exported per-reason messages.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { grantRoles, importTs, nodeClient, rejection, uniqueEmail } from "./harness.mjs";
import { codeIn, startMailServer } from "./mail-page.mjs";

const PASSWORD = "violet-otter-lamp-93";
const NEW_PASSWORD = "quiet-harbor-tram-58";
let server;
let helpers;
let lib;

before(async () => {
  [server, helpers, lib] = await Promise.all([startMailServer(), importTs("src/server/index.ts"), nodeClient()]);
});
after(async () => server?.stop());

/** The cookie header a browser with session `token` sends. */
const cookieFor = (token) => ({ cookie: `${lib.SESSION_COOKIE_NAME}=${token}` });

test("roles reach getSession, verifyAccessToken and hasRole", async () => {
  const { keyward } = server;
  const client = lib.createKeywardClient({ baseUrl: keyward.origin });
  const email = uniqueEmail("roles");
  const registered = await client.auth.register({ email, password: PASSWORD, name: "Ada" });
  const before = await helpers.getSession({ baseUrl: keyward.origin, headers: cookieFor(registered.signedIn.sessionToken) });
  assert.deepEqual(before.user.roles, [], "no roles: an empty list, not undefined");
  assert.equal(helpers.hasRole(before, "admin"), false);

  await grantRoles(keyward, registered.signedIn.user.id, ["admin", "billing"]);
  const { signedIn } = await client.auth.login({ email, password: PASSWORD });
  const session = await helpers.getSession({ baseUrl: keyward.origin, headers: cookieFor(signedIn.sessionToken) });
  assert.deepEqual(session.user.roles, ["admin", "billing"]);
  assert.equal(helpers.hasRole(session, "admin"), true);
  assert.equal(helpers.hasRole(session.user, "support", "billing"), true, "any of the roles asked for");
  assert.equal(helpers.hasRole(session, "support"), false);
  assert.equal(helpers.hasRole(session), false, "no role asked for grants nothing");
  assert.equal(helpers.hasRole(null, "admin"), false, "signed out");

  const claims = await helpers.verifyAccessToken(signedIn.accessToken.token, {
    baseUrl: keyward.origin,
    issuer: `http://127.0.0.1:${keyward.port}`,
  });
  assert.deepEqual(claims.roles, ["admin", "billing"]);
  assert.equal(helpers.hasRole(claims, "billing"), true);
});

test("server helpers: sign-up, magic link by code, reset, verification, passkeys", async () => {
  const { keyward, smtp } = server;
  const options = { baseUrl: keyward.origin };
  const email = uniqueEmail("server-helpers");

  const signedUp = await helpers.signUp.password({ ...options, email, password: PASSWORD, name: "Grace" });
  assert.equal(signedUp.session.user.email, email);
  assert.equal(signedUp.cookie.httpOnly, true);
  const headers = cookieFor(signedUp.cookie.value);
  assert.equal((await helpers.getSession({ ...options, headers })).user.name, "Grace");
  const taken = await rejection(() => helpers.signUp.password({ ...options, email, password: PASSWORD }));
  assert.equal(taken.reason, "EMAIL_TAKEN");

  // Verification: mailed for the signed-in user, finished with the mail's code.
  await helpers.sendVerificationEmail({ ...options, headers });
  const verification = await smtp.waitFor(email, /flow=verify-email/);
  assert.deepEqual(await helpers.verifyEmail({ ...options, email, code: codeIn(verification) }), { email });
  assert.ok((await helpers.getSession({ ...options, headers })).user.emailVerified);

  // A magic link, finished with the code: a new session with its own cookie.
  await helpers.sendMagicLink({ ...options, email });
  const magic = await smtp.waitFor(email, /flow=magic-link/);
  const byCode = await helpers.signIn.magicLink({ ...options, email, code: codeIn(magic) });
  assert.notEqual(byCode.cookie.value, signedUp.cookie.value);
  assert.equal((await helpers.getSession({ ...options, headers: cookieFor(byCode.cookie.value) })).user.email, email);

  // No passkeys yet; deleting one that is not there says so.
  assert.deepEqual(await helpers.passkeys.list({ ...options, headers }), []);
  const missing = await rejection(() => helpers.passkeys.delete({ ...options, headers, passkeyId: "00000000-0000-0000-0000-000000000000" }));
  assert.equal(missing.reason, "PASSKEY_NOT_FOUND");

  // Reset by the mail's link token: every session ends, the new password works.
  await helpers.requestPasswordReset({ ...options, email });
  const reset = await smtp.waitFor(email, /flow=reset-password/);
  const token = /[?&]token=([A-Za-z0-9_-]+)/.exec(reset.text)[1];
  await helpers.resetPassword({ ...options, token, newPassword: NEW_PASSWORD });
  assert.equal(await helpers.getSession({ ...options, headers }), null, "the reset ended the old sessions");
  const again = await helpers.signIn.password({ ...options, email, password: NEW_PASSWORD });
  assert.equal(again.session.user.email, email);
});

test("describeError: the page's sentence for a reason, exported with the package", async () => {
  const client = lib.createKeywardClient({ baseUrl: server.keyward.origin });
  const wrong = await rejection(() => client.auth.login({ email: uniqueEmail("nobody"), password: PASSWORD }));
  assert.equal(wrong.reason, "INVALID_CREDENTIALS");
  assert.equal(lib.describeError(wrong), lib.REASON_MESSAGES.INVALID_CREDENTIALS);
  assert.match(lib.describeError(wrong), /don't match an account/);
  const short = await rejection(() => client.auth.register({ email: uniqueEmail("short"), password: "short1" }));
  // A field reason without a fixed sentence: the server's description, as a sentence.
  assert.equal(lib.describeError(short), "Password must be at least 15 characters.");
  assert.equal(lib.violatedField(short), "password");
});

test("getSession reads Keyward's cookie first, then Auth.js's in the documented order", async () => {
  const { keyward } = server;
  const options = { baseUrl: keyward.origin };
  const register = async (prefix) => {
    const email = uniqueEmail(prefix);
    const { signedIn } = await lib.createKeywardClient({ baseUrl: keyward.origin }).auth.register({ email, password: PASSWORD });
    return { email, token: signedIn.sessionToken };
  };
  const [first, second] = [await register("cookie-first"), await register("cookie-second")];
  const read = async (cookie, extra = {}) => (await helpers.getSession({ ...options, ...extra, headers: { cookie } }))?.user.email ?? null;

  for (const name of helpers.AUTHJS_SESSION_COOKIE_NAMES) {
    assert.equal(await read(`${name}=${first.token}`), first.email, name);
  }
  assert.equal(await read(`authjs.session-token=${second.token}; ${lib.SESSION_COOKIE_NAME}=${first.token}`), first.email, "Keyward's wins");
  assert.equal(await read(`next-auth.session-token=${second.token}; __Secure-authjs.session-token=${first.token}`), first.email, "Auth.js 5 before 4");
  assert.equal(await read(`authjs.session-token=${first.token}`, { authjsCookies: false }), null, "authjsCookies: false");
  // An Auth.js cookie Keyward does not know (a JWT-strategy cookie): signed out, not an error.
  assert.equal(await read("authjs.session-token=eyJhbGciOiJkaXIifQ..x.y.z"), null);
  assert.equal(await helpers.adoptAuthjsSession({ ...options, headers: { cookie: "authjs.session-token=eyJhbGciOiJkaXIifQ..x.y.z" } }), null);
  // Nothing to adopt once Keyward's cookie is there.
  assert.equal(await helpers.adoptAuthjsSession({ ...options, headers: { cookie: `${lib.SESSION_COOKIE_NAME}=${first.token}; authjs.session-token=${second.token}` } }), null);
  const adopted = await helpers.adoptAuthjsSession({ ...options, headers: { cookie: `__Secure-authjs.session-token=${second.token}` } });
  assert.equal(adopted.session.user.email, second.email);
  assert.deepEqual(
    adopted.cookies.map((c) => [c.name, c.value === second.token ? "token" : c.value, c.httpOnly, c.secure, c.maxAge > 0]),
    [[lib.SESSION_COOKIE_NAME, "token", true, true, true], ["__Secure-authjs.session-token", "", true, true, false]],
  );
});
