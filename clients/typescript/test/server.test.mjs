// @keyward/client/server on its own: verifyAccessToken against a real Keyward's JWKS and against
// keys this test controls (other key, expired, wrong audience, wrong type, wrong algorithm, one
// JWKS fetch for many tokens), and the cookie helpers on the headers browsers really send.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, test } from "node:test";
import { SignJWT, exportJWK, generateKeyPair } from "jose";
import { importTs, nodeClient, rejection, startKeyward, uniqueEmail } from "./harness.mjs";

let keyward;
let server;
let lib;

before(async () => {
  [keyward, server, lib] = await Promise.all([startKeyward(), importTs("src/server/index.ts"), nodeClient()]);
});
after(async () => keyward?.stop());

/** A JWKS endpoint this test controls, counting its fetches. */
async function jwksServer(t, keys) {
  let fetches = 0;
  const http = createServer((request, response) => {
    fetches += 1;
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify({ keys }));
  });
  await new Promise((done) => http.listen(0, "127.0.0.1", done));
  t.after(() => http.close());
  return { url: `http://127.0.0.1:${http.address().port}/jwks.json`, fetches: () => fetches };
}

async function testKey(alg = "EdDSA", kid = "test-key") {
  const { publicKey, privateKey } = await generateKeyPair(alg, { crv: alg === "EdDSA" ? "Ed25519" : undefined });
  return { privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } };
}

const ISSUER = "https://id.example.test";
const now = () => Math.floor(Date.now() / 1000);

function token(privateKey, { alg = "EdDSA", kid = "test-key", typ = "at+jwt", aud = "keyward", iss = ISSUER, claims = {}, iat = now(), exp = now() + 300 } = {}) {
  return new SignJWT({ sid: "session-1", jti: "j1", ...claims })
    .setProtectedHeader({ alg, kid, typ })
    .setIssuer(iss)
    .setAudience(aud)
    .setSubject("user-1")
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .sign(privateKey);
}

test("a real Keyward access token verifies against its JWKS", async () => {
  const client = lib.createKeywardClient({ baseUrl: keyward.origin });
  const email = uniqueEmail("jwt");
  await client.auth.register({ email, password: "violet-otter-lamp-93" });
  const { signedIn } = await client.auth.login({ email, password: "violet-otter-lamp-93" });
  // Keyward's default issuer is its listen address.
  const claims = await server.verifyAccessToken(signedIn.accessToken.token, {
    baseUrl: keyward.origin,
    issuer: `http://127.0.0.1:${keyward.port}`,
  });
  assert.equal(claims.sub, signedIn.user.id);
  assert.equal(claims.sid, signedIn.session.id);
  assert.equal(claims.aud, "keyward");

  // Signed by another key under Keyward's own kid: the signature does not verify.
  const jwks = await (await fetch(`${keyward.origin}/.well-known/jwks.json`)).json();
  const { privateKey } = await testKey();
  const forged = await new SignJWT({ sid: signedIn.session.id })
    .setProtectedHeader({ alg: "EdDSA", kid: jwks.keys[0].kid, typ: "at+jwt" })
    .setIssuer(`http://127.0.0.1:${keyward.port}`)
    .setAudience("keyward")
    .setSubject(signedIn.user.id)
    .setIssuedAt()
    .setExpirationTime("5m")
    .sign(privateKey);
  const error = await rejection(() =>
    server.verifyAccessToken(forged, { baseUrl: keyward.origin, issuer: `http://127.0.0.1:${keyward.port}` }),
  );
  assert.ok(error instanceof server.AccessTokenError);
  assert.equal(error.code, "ERR_JWS_SIGNATURE_VERIFICATION_FAILED");
});

test("expired, wrong audience, wrong issuer, wrong type and wrong algorithm are refused", async (t) => {
  const good = await testKey();
  const ec = await testKey("ES256", "ec-key");
  const jwks = await jwksServer(t, [good.jwk, ec.jwk]);
  const verify = (jwt) => server.verifyAccessToken(jwt, { jwksUrl: jwks.url, issuer: ISSUER });

  const claims = await verify(await token(good.privateKey));
  assert.equal(claims.sub, "user-1");

  const cases = [
    ["expired", token(good.privateKey, { iat: now() - 600, exp: now() - 60 }), "ERR_JWT_EXPIRED"],
    ["wrong audience", token(good.privateKey, { aud: "another-service" }), "ERR_JWT_CLAIM_VALIDATION_FAILED"],
    ["wrong issuer", token(good.privateKey, { iss: "https://evil.test" }), "ERR_JWT_CLAIM_VALIDATION_FAILED"],
    ["an ID token (typ JWT)", token(good.privateKey, { typ: "JWT" }), "ERR_JWT_CLAIM_VALIDATION_FAILED"],
    ["ES256, though the key is in the JWKS", token(ec.privateKey, { alg: "ES256", kid: "ec-key" }), "ERR_JOSE_ALG_NOT_ALLOWED"],
    ["no session id", token(good.privateKey, { claims: { sid: undefined } }), "ERR_JWT_CLAIM_VALIDATION_FAILED"],
    ["not a JWT", Promise.resolve("not.a.jwt"), "ERR_JWS_INVALID"],
  ];
  for (const [what, jwt, code] of cases) {
    const error = await rejection(async () => verify(await jwt)).catch((e) => assert.fail(`${what}: ${e.message}`));
    assert.ok(error instanceof server.AccessTokenError, `${what}: ${error}`);
    assert.equal(error.code, code, `${what}: ${error.message}`);
  }
  // The key set is fetched once and cached across every verification above; made-up key ids
  // right after a fetch do not refetch it (jose's 30 s cooldown), so forged tokens cannot make a
  // service hammer Keyward's key set.
  for (let i = 0; i < 5; i++) {
    const error = await rejection(async () => verify(await token(good.privateKey, { kid: `made-up-${i}` })));
    assert.equal(error.code, "ERR_JWKS_NO_MATCHING_KEY");
  }
  assert.equal(jwks.fetches(), 1);
});

test("the session cookie is read from real Cookie headers, and only when token-shaped", () => {
  const name = server.SESSION_COOKIE_NAME;
  const token = "AbC-_".repeat(8) + "xyz";
  const read = (header) => server.readSessionCookie(header, name);
  assert.equal(read(`${name}=${token}`), token);
  assert.equal(read(`theme=dark; ${name}=${token}; lang=en`), token);
  assert.equal(read(`x${name}=${token}`), undefined, "a longer name is another cookie");
  assert.equal(read(`${name}=a b`), undefined);
  assert.equal(read(`${name}="quoted"`), undefined);
  assert.equal(read(`${name}=${"a".repeat(5000)}`), undefined, "oversized");
  assert.equal(read(undefined), undefined);
  assert.equal(read(""), undefined);
});

test("Set-Cookie lines round-trip through parse and format", () => {
  const line = "keyward_session=abc; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=2592000";
  const cookie = server.parseSetCookie(line, "keyward_session");
  assert.deepEqual(cookie, { name: "keyward_session", value: "abc", httpOnly: true, secure: true, sameSite: "lax", path: "/", maxAge: 2592000 });
  assert.equal(server.parseSetCookie(line, "other"), undefined);
  assert.equal(server.formatSetCookie(cookie), "keyward_session=abc; Path=/; Max-Age=2592000; SameSite=Lax; Secure; HttpOnly");
  const withDomain = server.parseSetCookie("keyward_session=; Domain=example.com; Max-Age=0; SameSite=Strict", "keyward_session");
  assert.deepEqual(
    [withDomain.domain, withDomain.maxAge, withDomain.sameSite, withDomain.httpOnly],
    ["example.com", 0, "strict", false],
  );
});

test("getSession forwards the browser's user agent, so the session list names the browser", async () => {
  const email = uniqueEmail("ua");
  const client = lib.createKeywardClient({ baseUrl: keyward.origin });
  await client.auth.register({ email, password: "violet-otter-lamp-93" });
  const browser = "Mozilla/5.0 (X11; Linux x86_64) TestBrowser/1.0";
  const { cookie, session } = await server.signIn.password({
    baseUrl: keyward.origin,
    email,
    password: "violet-otter-lamp-93",
    headers: new Headers({ "user-agent": browser }),
  });
  assert.equal(session.session.userAgent, browser);
  const read = await server.getSession({ baseUrl: keyward.origin, headers: { cookie: `${cookie.name}=${cookie.value}` } });
  assert.equal(read.session.id, session.session.id);

  const wrong = await rejection(() => server.signIn.password({ baseUrl: keyward.origin, email, password: "not-it-at-all-42" }));
  assert.ok(server.hasReason(wrong, "INVALID_CREDENTIALS"));
});
