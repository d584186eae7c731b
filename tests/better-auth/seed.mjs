// Builds the database of an app on better-auth, for Keyward's import tests, with better-auth
// itself: its own migrations (`getMigrations` from better-auth/db, with the passkey and
// two-factor plugins' tables), users signed up through its email-and-password endpoint (so
// passwords are hashed by better-auth's scrypt), sessions made by its sign-in endpoint (the
// signed `better-auth.session_token` cookie is captured from the answer), two-factor enabled
// through its endpoint (the TOTP secret and backup codes encrypted with the app's secret), and
// OAuth accounts linked through its internal adapter, as its OAuth callback does. What a seed
// cannot make through an endpoint (hostile rows, rows of an older schema) is then written with
// SQL, and said so. Prints what the test needs as one JSON object on stdout.
//
//   node seed.mjs postgres://…/database | sqlite:/path/file.db
//   node seed.mjs serve postgres://…|sqlite:…   (then: passkey registration over HTTP, see below)
import { createServer } from "node:http";
import { betterAuth } from "better-auth";
import { getMigrations } from "better-auth/db/migration";
import { toNodeHandler } from "better-auth/node";
import { anonymous } from "better-auth/plugins/anonymous";
import { twoFactor } from "better-auth/plugins/two-factor";
import { passkey } from "@better-auth/passkey";
import Database from "better-sqlite3";
import pg from "pg";

export const SECRET = "a-better-auth-secret-of-at-least-32-characters";
const DAY = 24 * 3600 * 1000;

const args = process.argv.slice(2);
const serve = args[0] === "serve";
const url = serve ? args[1] : args[0];
if (!url) {
  console.error("usage: node seed.mjs [serve] postgres://… | sqlite:path");
  process.exit(2);
}

const sqlite = url.startsWith("sqlite:");
const database = sqlite ? new Database(url.replace(/^sqlite:(\/\/)?/, "")) : new pg.Pool({ connectionString: url, max: 2 });
/** Runs SQL written for PostgreSQL ($1 placeholders) on either database. */
async function sql(text, values = []) {
  if (sqlite) {
    const statement = database.prepare(text.replace(/\$\d+/g, "?"));
    return statement.reader ? statement.all(...values) : statement.run(...values);
  }
  return (await database.query(text, values)).rows;
}

// The port is known only once listening: passkey ceremonies need the origin up front, so the
// server mode listens first and builds auth after.
let origin = "http://localhost:3000";
let server;
if (serve) {
  server = createServer((request, response) => handler(request, response));
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://localhost:${server.address().port}`;
}

const auth = betterAuth({
  database,
  secret: SECRET,
  baseURL: origin,
  emailAndPassword: { enabled: true },
  plugins: [
    twoFactor({ issuer: "Keyward test" }),
    anonymous(),
    // Keyward's software authenticator (webauthn-authenticator-rs) writes the origin into its
    // client data as a URL, with a trailing "/": accept that spelling too.
    passkey({ rpID: "localhost", rpName: "Keyward test", origin: [origin, `${origin}/`] }),
  ],
  telemetry: { enabled: false },
  rateLimit: { enabled: false },
});
const handler = toNodeHandler(auth);

if (serve) {
  // Passkey registration driven by the test with Keyward's software authenticator: the test
  // signs in (POST /api/auth/sign-in/email), asks /api/auth/passkey/generate-register-options
  // and posts the credential to /api/auth/passkey/verify-registration, then closes stdin.
  process.stdout.write(JSON.stringify({ origin }) + "\n");
  process.stdin.resume();
  process.stdin.on("end", async () => {
    server.close();
    if (!sqlite) await database.end();
    else database.close();
  });
} else {
  await seed();
}

async function seed() {
  const { runMigrations } = await getMigrations(auth.options);
  await runMigrations();
  const context = await auth.$context;

  const users = {};
  const cookies = {};
  /** Sign-up through better-auth's endpoint: its scrypt hash lands in account.password. */
  async function signUp(key, email, password, name) {
    const result = await auth.api.signUpEmail({ body: { email, password, name } });
    users[key] = { id: result.user.id, email, password };
    return result.user;
  }
  /** Sign-in through the endpoint; the signed session cookie as the browser holds it. */
  async function signIn(email, password) {
    const response = await auth.api.signInEmail({ body: { email, password }, asResponse: true });
    const setCookie = response.headers.getSetCookie().find((c) => c.startsWith("better-auth.session_token="));
    if (!setCookie) throw new Error(`no session cookie for ${email}: ${response.status}`);
    return setCookie.split(";")[0].slice("better-auth.session_token=".length);
  }

  const ada = await signUp("ada", "ada@example.com", "violet-otter-lamp-93", "Ada Lovelace");
  await sql(`UPDATE "user" SET "emailVerified" = $1, image = $2 WHERE id = $3`, [
    sqlite ? 1 : true,
    "https://avatars.example.com/ada.png",
    ada.id,
  ]);
  cookies.ada = await signIn("ada@example.com", "violet-otter-lamp-93");
  // NFKC: better-auth hashes password.normalize("NFKC"); full-width letters and the "ﬁ" ligature
  // are the same password as their plain forms.
  await signUp("nfkc", "nfkc@example.com", "Ｐａｓｓ-ﬁsh-42-ever", "Unicode User");
  const grace = await signUp("grace", "grace@example.com", "amber-heron-kite-57", "Grace Hopper");
  cookies.grace = await signIn("grace@example.com", "amber-heron-kite-57");
  const enabled = await auth.api.enableTwoFactor({
    body: { password: "amber-heron-kite-57" },
    headers: new Headers({ cookie: `better-auth.session_token=${cookies.grace}` }),
  });
  const totpSecret = new URL(enabled.totpURI).searchParams.get("secret");
  users.grace.totpSecret = totpSecret;
  users.grace.backupCodes = enabled.backupCodes;
  // Finish the enrolment as the app's page would: a TOTP code from the authenticator app.
  // (Left unverified here: better-auth marks the row verified only after verifyTotp.)

  // An expired session, as better-auth leaves them until they are read.
  const expired = await signIn("ada@example.com", "violet-otter-lamp-93");
  const expiredToken = decodeURIComponent(expired).split(".")[0];
  // better-auth's Kysely SQLite dialect stores dates as ISO text; PostgreSQL as timestamptz.
  await sql(`UPDATE "session" SET "expiresAt" = $1 WHERE token = $2`, [
    sqlite ? new Date(Date.now() - DAY).toISOString() : new Date(Date.now() - DAY),
    expiredToken,
  ]);

  // OAuth accounts as better-auth's callback links them (internalAdapter.createAccount).
  await context.internalAdapter.createAccount({
    userId: ada.id,
    providerId: "github",
    accountId: "583231",
    accessToken: "gho_" + "a".repeat(36),
    scope: "read:user,user:email",
  });
  await context.internalAdapter.createAccount({
    userId: grace.id,
    providerId: "keycloak",
    accountId: "f3a1c9e2-0b7d-4e55-9a61-2d8c0f4b7e11",
    accessToken: "eyJ.keycloak.token",
    idToken: "eyJ.keycloak.id",
    accessTokenExpiresAt: new Date(Date.now() + 3600 * 1000),
  });

  // Hostile rows, written with SQL (no endpoint makes them): a corrupt hash, two addresses
  // that are one once lower-cased (better-auth lower-cases at sign-up; older rows may not be),
  // a huge name, a user with no email.
  const corrupt = await signUp("corrupt", "corrupt@example.com", "lemon-frost-anvil-11", "Corrupt Hash");
  await sql(`UPDATE account SET password = $1 WHERE "userId" = $2 AND "providerId" = 'credential'`, [
    "zz-not-hex:" + "0".repeat(128),
    corrupt.id,
  ]);
  const dup1 = await signUp("dup1", "dup@example.com", "pepper-mint-crow-20", "Dup One");
  const dup2 = await signUp("dup2", "dup-two@example.com", "pepper-mint-crow-21", "Dup Two");
  await sql(`UPDATE "user" SET email = $1 WHERE id = $2`, ["DUP@Example.com", dup2.id]);
  users.dup1.email = "dup@example.com";
  users.dup2.email = "DUP@Example.com";
  const huge = await signUp("huge", "huge@example.com", "cobalt-finch-rain-33", "Huge Name");
  await sql(`UPDATE "user" SET name = $1 WHERE id = $2`, ["N".repeat(100_000), huge.id]);
  void dup1;

  // A passkey row whose public key is not base64 (no ceremony makes one).
  await sql(
    `INSERT INTO passkey (id, name, "publicKey", "userId", "credentialID", counter, "deviceType", "backedUp", transports, "createdAt")
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [
      "corruptPasskey",
      "Broken",
      "!!! not base64 !!!",
      ada.id,
      "Y29ycnVwdC1jcmVkZW50aWFs",
      0,
      "singleDevice",
      sqlite ? 0 : false,
      "internal",
      sqlite ? new Date().toISOString() : new Date(),
    ],
  );

  // An anonymous guest (anonymous plugin): a user row with isAnonymous and a live session.
  const guest = await auth.api.signInAnonymous({ headers: new Headers() });
  users.guest = { id: guest.user.id };

  const tokens = {};
  for (const [key, cookie] of Object.entries(cookies)) tokens[key] = decodeURIComponent(cookie).split(".")[0];
  process.stdout.write(JSON.stringify({ secret: SECRET, users, cookies, tokens }) + "\n");
  if (sqlite) database.close();
  else await database.end();
}
