// Shared test plumbing: start a real `keyward serve` on a free port with a throwaway SQLite
// database, launch Debian's chromium through playwright-core, save screenshots as artifacts.

import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createServer as createNetServer } from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, "..", "..", "..");
/** Screenshots and logs land here (git-ignored); CI keeps it as the run's artifacts. */
export const artifactsDir = resolve(process.env.TEST_ARTIFACTS_DIR ?? join(repoRoot, "test-artifacts", "e2e"));

/**
 * The keyward binary: $TEST_KEYWARD_BIN (not KEYWARD_*: keyward reads every KEYWARD_* variable as
 * a setting and refuses unknown ones), else the debug build in $CARGO_TARGET_DIR or target/. */
export function keywardBin() {
  const candidates = [
    process.env.TEST_KEYWARD_BIN,
    process.env.CARGO_TARGET_DIR && join(resolve(repoRoot, process.env.CARGO_TARGET_DIR), "debug", "keyward"),
    join(repoRoot, "target", "debug", "keyward"),
  ].filter(Boolean);
  const found = candidates.find((path) => existsSync(path));
  if (!found) throw new Error(`no keyward binary (run \`cargo build\` or set TEST_KEYWARD_BIN); looked at ${candidates.join(", ")}`);
  return found;
}

/** A port that was free a moment ago. */
export async function freePort() {
  const server = createNetServer();
  await new Promise((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address();
  await new Promise((done) => server.close(done));
  return port;
}

/**
 * Starts `keyward serve` and waits for its "keyward is serving" log line, no sleeps. The port is
 * chosen up front rather than with `--listen 127.0.0.1:0` because the default passkey origin,
 * `http://localhost:<listen port>`, is computed from the configured port, not the bound one.
 */
export async function startKeyward(env = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), "keyward-e2e-"));
  const listenPort = await freePort();
  // Settings that name the server's own address (redirect URIs) can be given as a function.
  if (typeof env === "function") env = env({ port: listenPort, origin: `http://localhost:${listenPort}` });
  const child = spawn(keywardBin(), ["serve", "--listen", `127.0.0.1:${listenPort}`], {
    env: { ...process.env, KEYWARD_DATA_DIR: dataDir, KEYWARD_LOG_FORMAT: "json", KEYWARD_LOG: "info",
      // Every test calls from 127.0.0.1: per-address budgets would refuse the suite.
      KEYWARD_RATE_LIMITS__ENABLED: "false",
      // Sign-up signs in at once here; the tests about verification turn it back on (the default).
      KEYWARD_REQUIRE_EMAIL_VERIFICATION: "false", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  // Never outlive the test process, even when it dies mid-test.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  const log = [];
  const port = await new Promise((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error(`keyward did not start in 30 s:\n${log.join("\n")}`)), 30_000);
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on("line", (line) => {
        log.push(line);
        const match = /"local_addr":"127\.0\.0\.1:(\d+)"/.exec(line);
        if (match && line.includes("keyward is serving")) {
          clearTimeout(timer);
          resolvePort(Number(match[1]));
        }
      });
    }
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`keyward exited with ${code} before serving:\n${log.join("\n")}`));
    });
  });
  return {
    port,
    /** The PostgreSQL database the server uses (KEYWARD_DATABASE_URL), or undefined for SQLite. */
    databaseUrl: env.KEYWARD_DATABASE_URL ?? process.env.KEYWARD_DATABASE_URL,
    /** Pages use `localhost`: it is a secure context and a valid WebAuthn RP ID, an IP is not. */
    origin: `http://localhost:${port}`,
    dataDir,
    log,
    async stop() {
      process.off("exit", killOnExit);
      if (child.exitCode === null) {
        const exited = new Promise((done) => child.once("exit", done));
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Makes every session of `server` look as if its user last proved a factor long ago (the year
 * 2000), straight in its database (SQLite file, or PostgreSQL with psql): what a session older
 * than reauthentication_window_secs is. (Start the server with KEYWARD_SESSION_CACHE_TTL_MS=0 so
 * no cached copy hides the change.)
 */
export function makeSessionsStale(server) {
  if (server.databaseUrl) {
    const sql = "WITH stale AS (UPDATE sessions SET authenticated_at = '2000-01-01 00:00:00+00' RETURNING 1) SELECT count(*) FROM stale";
    return Number(execFileSync("psql", [server.databaseUrl, "-tAc", sql]).toString().trim());
  }
  const script = [
    "import sqlite3, sys",
    "db = sqlite3.connect(sys.argv[1])",
    "changed = db.execute(\"UPDATE sessions SET authenticated_at = '2000' || substr(authenticated_at, 5)\").rowcount",
    "db.commit()",
    "print(changed)",
  ].join("\n");
  return Number(execFileSync("python3", ["-c", script, join(server.dataDir, "keyward.db")]).toString().trim());
}

/** Chromium with a fresh profile; returns its one browser context (`options`: Playwright's). */
export async function launchBrowser(options = {}) {
  const userDataDir = mkdtempSync(join(tmpdir(), "keyward-chromium-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    ...options,
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-quic",
      "--no-first-run",
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A CDP virtual authenticator on `page`: CTAP2, platform ("internal"), resident keys and user
 * verification, user always present and verified.
 */
export async function addVirtualAuthenticator(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("WebAuthn.enable", { enableUI: false });
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return {
    cdp,
    authenticatorId,
    async credentials() {
      return (await cdp.send("WebAuthn.getCredentials", { authenticatorId })).credentials;
    },
  };
}

/** Saves a full-page screenshot as `<scenario>/<NN>-<step>.png` under the artifacts dir. */
export function screenshotter(page, scenario) {
  const dir = join(artifactsDir, scenario);
  mkdirSync(dir, { recursive: true });
  let step = 0;
  return async (name) => {
    step += 1;
    await page.screenshot({ path: join(dir, `${String(step).padStart(2, "0")}-${name}.png`), fullPage: true });
  };
}

/** A unique email per run, so reruns against one server never collide. */
export function uniqueEmail(prefix) {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}@example.com`;
}

/**
 * Bundles the client (src/index.ts) once per process: `platform` "node" for calls from the test
 * itself, "browser" for pages. Returns the bundle's path.
 */
const bundles = new Map();
export async function bundleClient(platform) {
  if (!bundles.has(platform)) {
    const outfile = join(mkdtempSync(join(tmpdir(), "keyward-client-")), "client.mjs");
    await build({
      entryPoints: [join(here, "..", "src", "index.ts")],
      outfile,
      bundle: true,
      format: "esm",
      platform,
      target: platform === "node" ? "node20" : "es2022",
      logLevel: "warning",
    });
    bundles.set(platform, outfile);
  }
  return bundles.get(platform);
}

/** A TypeScript module of this package, bundled and imported into this Node process. */
export async function importTs(relativePath) {
  const outfile = join(mkdtempSync(join(tmpdir(), "keyward-module-")), "module.mjs");
  await build({ entryPoints: [join(here, "..", relativePath)], outfile, bundle: true, format: "esm", platform: "node", logLevel: "warning" });
  return import(pathToFileURL(outfile).href);
}

/** The client, imported in this Node process (Node 20 has fetch). */
export async function nodeClient() {
  return import(pathToFileURL(await bundleClient("node")).href);
}

/**
 * A client that calls Keyward (at `keywardUrl`, default `origin`) from the test process with the
 * browser's session cookie for `origin`, as the browser would: the independent check of what the
 * page claims.
 */
export async function clientWithBrowserCookie(context, origin, keywardUrl = origin) {
  const { createKeywardClient, SESSION_COOKIE_NAME } = await nodeClient();
  const cookies = await context.cookies(origin);
  const session = cookies.find((cookie) => cookie.name === SESSION_COOKIE_NAME);
  return createKeywardClient({
    baseUrl: keywardUrl,
    interceptors: [
      (next) => (request) => {
        // As the browser sends it: Keyward accepts the session cookie only with its page's Origin.
        if (session) request.header.set("cookie", `${SESSION_COOKIE_NAME}=${session.value}`);
        request.header.set("origin", origin);
        return next(request);
      },
    ],
  });
}

/** Runs `call` and returns the KeywardError it throws (fails the test when it does not). */
export async function rejection(call) {
  try {
    await call();
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to fail, and it succeeded");
}

/**
 * Gives `userId` these roles through AdminService (UpdateUser), with a fresh API key of
 * users:write and users:roles (roles need their own scope) made by `keyward admin keys create`
 * on `server`'s database.
 */
export async function grantRoles(server, userId, roles) {
  const key = execFileSync(
    keywardBin(),
    ["admin", "keys", "create", "--name", "roles-test", "--scope", "users:write", "--scope", "users:roles", "--data-dir", server.dataDir],
    { env: { ...process.env, KEYWARD_LOG: "error" } },
  )
    .toString()
    .trim();
  const [{ createKeywardClient }, { AdminService }] = await Promise.all([nodeClient(), importTs("src/gen/keyward/v1/admin_pb.ts")]);
  const admin = createKeywardClient({ baseUrl: server.origin, token: key }).service(AdminService);
  await admin.updateUser({ userId, updateMask: { paths: ["roles"] }, roles });
}
