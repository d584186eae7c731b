// Builds the Auth.js database of an app on @auth/pg-adapter, for Keyward's import tests: the
// adapter's documented schema plus the `password` column the credentials tutorials add, and
// every row written through the adapter itself (createUser, linkAccount, createSession,
// createVerificationToken), with tokens made the way @auth/core makes them. Passwords are
// hashed with bcryptjs, as those tutorials do. Prints what the test needs (ids, passwords,
// session tokens) as one JSON object on stdout.
//
//   node seed-pg-adapter.mjs postgres://…/database
import { createHash, randomBytes, randomUUID } from "node:crypto";
import PostgresAdapter from "@auth/pg-adapter";
import bcrypt from "bcryptjs";
import pg from "pg";

// https://authjs.dev/getting-started/adapters/pg — the schema as documented.
const SCHEMA = `
CREATE TABLE verification_token
(
  identifier TEXT NOT NULL,
  expires TIMESTAMPTZ NOT NULL,
  token TEXT NOT NULL,

  PRIMARY KEY (identifier, token)
);

CREATE TABLE accounts
(
  id SERIAL,
  "userId" INTEGER NOT NULL,
  type VARCHAR(255) NOT NULL,
  provider VARCHAR(255) NOT NULL,
  "providerAccountId" VARCHAR(255) NOT NULL,
  refresh_token TEXT,
  access_token TEXT,
  expires_at BIGINT,
  id_token TEXT,
  scope TEXT,
  session_state TEXT,
  token_type TEXT,

  PRIMARY KEY (id)
);

CREATE TABLE sessions
(
  id SERIAL,
  "userId" INTEGER NOT NULL,
  expires TIMESTAMPTZ NOT NULL,
  "sessionToken" VARCHAR(255) NOT NULL,

  PRIMARY KEY (id)
);

CREATE TABLE users
(
  id SERIAL,
  name VARCHAR(255),
  email VARCHAR(255),
  "emailVerified" TIMESTAMPTZ,
  image TEXT,

  PRIMARY KEY (id)
);

-- What the credentials-provider tutorials add.
ALTER TABLE users ADD COLUMN password TEXT;
`;

const DAY = 24 * 3600 * 1000;
const AUTH_SECRET = "a-test-secret-of-the-auth-js-app";

const url = process.argv[2];
if (!url) {
  console.error("usage: node seed-pg-adapter.mjs postgres://…");
  process.exit(2);
}
const pool = new pg.Pool({ connectionString: url, max: 2 });
await pool.query(SCHEMA);
const adapter = PostgresAdapter(pool);

const users = {};
/** A user through the adapter; the password hash stored as the credentials tutorials do. */
async function user(key, { email, name = null, emailVerified = null, image = null, password, hash }) {
  const created = await adapter.createUser({ id: randomUUID(), email, name, emailVerified, image });
  const stored = hash ?? (password === undefined ? null : bcrypt.hashSync(password, 10));
  if (stored !== null) {
    await pool.query("UPDATE users SET password = $1 WHERE id = $2", [stored, created.id]);
  }
  users[key] = { id: String(created.id), email, password: password ?? null, hash: stored };
  return created;
}

const ada = await user("ada", {
  email: "Ada@Example.com",
  name: "Ada Lovelace",
  emailVerified: new Date(Date.now() - 30 * DAY),
  image: "https://avatars.example.com/ada.png",
  password: "violet-otter-lamp-93",
});
// bcryptjs 3 writes $2b$; bcryptjs 2 wrote $2a$ and PHP (Laravel) $2y$: the same algorithm.
const grace = await user("grace", { email: "grace@example.com", name: "Grace Hopper", password: "amber-heron-kite-57" });
const graceHash = users.grace.hash.replace(/^\$2b\$/, "$2a$");
await pool.query("UPDATE users SET password = $1 WHERE id = $2", [graceHash, grace.id]);
users.grace.hash = graceHash;
const php = await user("php", { email: "php@example.com", password: "copper-lynx-drum-64" });
const phpHash = users.php.hash.replace(/^\$2b\$/, "$2y$");
await pool.query("UPDATE users SET password = $1 WHERE id = $2", [phpHash, php.id]);
users.php.hash = phpHash;
// 36 × "ü" is 72 bytes of UTF-8: bcrypt ignores everything after them.
await user("long", { email: "long@example.com", password: "ü".repeat(36) + "-and-a-tail" });
// Cost 16 (relabelled: refused at import, never computed) and a format Keyward does not know.
await user("costly", { email: "costly@example.com", hash: bcrypt.hashSync("x", 4).replace("$2b$04$", "$2b$16$") });
await user("unsupported", { email: "unsupported@example.com", hash: "sha256$salt$0123456789abcdef" });
// Bad rows: no email; two addresses that are one once normalized.
const noEmail = await user("noEmail", { email: null, name: "No Email" });
await user("dup1", { email: "Dup@Example.com" });
await user("dup2", { email: "dup@example.com " });

await adapter.linkAccount({
  userId: ada.id,
  type: "oauth",
  provider: "github",
  providerAccountId: "583231",
  access_token: "gho_" + randomBytes(18).toString("hex"),
  token_type: "bearer",
  scope: "read:user,user:email",
});
await adapter.linkAccount({ userId: noEmail.id, type: "oauth", provider: "github", providerAccountId: "9999" });

/** A session as @auth/core's database strategy creates one. */
async function session(userId, sessionToken, expires) {
  await adapter.createSession({ sessionToken, userId, expires });
  return sessionToken;
}
const sessions = {
  // Auth.js's default generateSessionToken: crypto.randomUUID().
  adaLive: await session(ada.id, randomUUID(), new Date(Date.now() + 30 * DAY)),
  // NextAuth.js 3/4's fallback: 32 random bytes as hex.
  graceHex: await session(grace.id, randomBytes(32).toString("hex"), new Date(Date.now() + 30 * DAY)),
  adaExpired: await session(ada.id, randomUUID(), new Date(Date.now() - DAY)),
  noEmailLive: await session(noEmail.id, randomUUID(), new Date(Date.now() + DAY)),
  // A custom generateSessionToken Keyward does not accept.
  adaCustom: await session(ada.id, "custom-token-" + randomBytes(4).toString("hex"), new Date(Date.now() + DAY)),
};

// The email provider stores SHA-256(token + secret) and mails the token.
const hashToken = (token) => createHash("sha256").update(`${token}${AUTH_SECRET}`).digest("hex");
await adapter.createVerificationToken({
  identifier: "ada@example.com",
  token: hashToken(randomBytes(32).toString("hex")),
  expires: new Date(Date.now() + DAY),
});
await adapter.createVerificationToken({
  identifier: "grace@example.com",
  token: hashToken(randomBytes(32).toString("hex")),
  expires: new Date(Date.now() - DAY),
});

await pool.end();
process.stdout.write(JSON.stringify({ users, sessions }) + "\n");
