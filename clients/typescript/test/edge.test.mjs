// @keyward/client/server on the Edge runtime: bundled for a neutral platform (any Node built-in
// import fails the build) and run inside @edge-runtime/vm, the Web-APIs-only sandbox behind
// Next.js's and Vercel's Edge runtime. getSession and verifyAccessToken then talk to a real
// Keyward with nothing but fetch and WebCrypto.
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { EdgeVM } from "@edge-runtime/vm";
import { build } from "esbuild";
import { importTs, nodeClient, startKeyward, uniqueEmail } from "./harness.mjs";

const here = dirname(fileURLToPath(import.meta.url));
let keyward;

before(async () => {
  keyward = await startKeyward();
});
after(async () => keyward?.stop());

test("getSession and verifyAccessToken run in the Edge runtime's sandbox", async () => {
  const bundle = await build({
    entryPoints: [join(here, "..", "src", "server", "index.ts")],
    bundle: true,
    write: false,
    platform: "neutral",
    mainFields: ["module", "main"],
    format: "iife",
    globalName: "keywardServer",
    target: "es2022",
    logLevel: "silent",
  });
  const code = bundle.outputFiles[0].text;
  assert.doesNotMatch(code, /require\(["']node:|from ["']node:/, "the server entry imports a Node built-in");
  const edge = new EdgeVM({ initialCode: code });
  assert.equal(edge.evaluate("typeof process === 'undefined' || typeof process.versions?.node === 'undefined'"), true);

  // A real session cookie and access token, obtained from this (Node) process.
  const email = uniqueEmail("edge");
  const { createKeywardClient } = await nodeClient();
  await createKeywardClient({ baseUrl: keyward.origin }).auth.register({ email, password: "violet-otter-lamp-93" });
  const server = await importTs("src/server/index.ts");
  const { cookie } = await server.signIn.password({ baseUrl: keyward.origin, email, password: "violet-otter-lamp-93" });
  const { signedIn } = await createKeywardClient({ baseUrl: keyward.origin }).auth.login({ email, password: "violet-otter-lamp-93" });

  const run = async (expression) => JSON.parse(await edge.evaluate(`(async () => JSON.stringify(await (${expression})))()`));
  const baseUrl = JSON.stringify(keyward.origin);
  const cookieHeader = JSON.stringify(`${cookie.name}=${cookie.value}`);

  assert.equal(await run(`keywardServer.getSession({ baseUrl: ${baseUrl}, headers: new Headers() })`), null);
  const session = await run(`keywardServer.getSession({ baseUrl: ${baseUrl}, headers: new Headers({ cookie: ${cookieHeader} }) })`);
  assert.equal(session.user.email, email);
  assert.match(session.session.expiresAt, /Z$/);

  const claims = await run(
    `keywardServer.verifyAccessToken(${JSON.stringify(signedIn.accessToken.token)}, { baseUrl: ${baseUrl}, issuer: ${JSON.stringify(`http://127.0.0.1:${keyward.port}`)} })`,
  );
  assert.equal(claims.sub, signedIn.user.id);
});
