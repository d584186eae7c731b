// The TypeScript client on its own, from Node over grpc-web: typed errors with the ErrorInfo
// reason and BadRequest violations, bearer tokens, the provider lookup's graceful absence.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, test } from "node:test";
import { nodeClient, rejection, startKeyward, uniqueEmail } from "./harness.mjs";

const PASSWORD = "violet-otter-lamp-93";
let keyward;
let lib;

before(async () => {
  [keyward, lib] = await Promise.all([startKeyward(), nodeClient()]);
});
after(async () => keyward?.stop());

test("register, login and GetSession with a bearer token", async () => {
  const email = uniqueEmail("ts");
  const anonymous = lib.createKeywardClient({ baseUrl: keyward.origin });
  const registered = await anonymous.auth.register({ email, password: PASSWORD, name: "Ada" });
  assert.equal(registered.signedIn.user.email, email);
  const login = await anonymous.auth.login({ email, password: PASSWORD });
  assert.ok(login.signedIn.sessionToken);

  const authed = lib.createKeywardClient({ baseUrl: keyward.origin, token: () => login.signedIn.sessionToken });
  const session = await authed.auth.getSession({});
  assert.equal(session.user.id, registered.signedIn.user.id);
  assert.equal(session.session.id, login.signedIn.session.id);
  assert.equal(session.user.hasPassword, true);
});

test("a wrong password is a KeywardError with reason INVALID_CREDENTIALS", async () => {
  const email = uniqueEmail("ts-wrong");
  const client = lib.createKeywardClient({ baseUrl: keyward.origin });
  await client.auth.register({ email, password: PASSWORD });
  const error = await rejection(() => client.auth.login({ email, password: "not-it-at-all-42" }));
  assert.ok(error instanceof lib.KeywardError, `not a KeywardError: ${error}`);
  assert.equal(error.code, 16 /* Unauthenticated */);
  assert.equal(error.reason, "INVALID_CREDENTIALS");
  assert.ok(lib.hasReason(error, "INVALID_CREDENTIALS"));
});

test("bad input carries the reason and the field violation", async () => {
  const client = lib.createKeywardClient({ baseUrl: keyward.origin });
  const error = await rejection(() => client.auth.register({ email: uniqueEmail("ts-common"), password: "password12345678" }));
  assert.equal(error.code, 3 /* InvalidArgument */);
  assert.equal(error.reason, "PASSWORD_TOO_COMMON");
  assert.deepEqual(
    error.fieldViolations.map((v) => v.field),
    ["password"],
  );

  const taken = uniqueEmail("ts-taken");
  await client.auth.register({ email: taken, password: PASSWORD });
  const again = await rejection(() => client.auth.register({ email: taken, password: PASSWORD }));
  assert.equal(again.reason, "EMAIL_TAKEN");
});

test("without a session GetSession says NOT_SIGNED_IN", async () => {
  const client = lib.createKeywardClient({ baseUrl: keyward.origin });
  const error = await rejection(() => client.auth.getSession({}));
  assert.equal(error.reason, "NOT_SIGNED_IN");
});

test("an unreachable server is a KeywardError without a reason", async () => {
  const client = lib.createKeywardClient({ baseUrl: "http://127.0.0.1:9" });
  const error = await rejection(() => client.auth.getSession({}));
  assert.ok(error instanceof lib.KeywardError);
  assert.equal(error.reason, undefined);
});

test("listProviders answers [] when no provider is configured", async () => {
  const client = lib.createKeywardClient({ baseUrl: keyward.origin });
  assert.deepEqual(await lib.listProviders(client), []);
});

test("listProviders answers [] from a server without OAuthService (UNIMPLEMENTED)", async (t) => {
  // A grpc-web server that implements nothing: trailers-only UNIMPLEMENTED for every call.
  const server = createServer((request, response) => {
    request.resume();
    response.writeHead(200, { "content-type": "application/grpc-web+proto", "grpc-status": "12", "grpc-message": "unimplemented" });
    response.end();
  });
  await new Promise((done) => server.listen(0, "127.0.0.1", done));
  t.after(() => server.close());
  const client = lib.createKeywardClient({ baseUrl: `http://127.0.0.1:${server.address().port}` });
  assert.deepEqual(await lib.listProviders(client), []);
  const error = await rejection(() => client.auth.getSession({}));
  assert.equal(error.code, 12 /* Unimplemented */);
  assert.ok(lib.isUnimplemented(error));
});

test("base64url round-trips bytes that need padding and URL-safe characters", () => {
  for (const bytes of [[], [0xfb], [0xfb, 0xff], [0xfb, 0xff, 0xbf], [0, 1, 2, 3, 250, 251, 252, 253, 254, 255]]) {
    const encoded = lib.bytesToBase64url(new Uint8Array(bytes));
    assert.doesNotMatch(encoded, /[+/=]/);
    assert.deepEqual([...lib.base64urlToBytes(encoded)], bytes);
  }
});
