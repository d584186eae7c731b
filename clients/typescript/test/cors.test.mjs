// grpc-web from a page on another origin: allowed when the origin is in cors_allowed_origins
// (with the session cookie, as a same-site app would use it), refused when it is not — and a
// refused request never reaches Keyward.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { after, before, test } from "node:test";
import {
  bundleClient,
  launchBrowser,
  nodeClient,
  rejection,
  screenshotter,
  startKeyward,
  uniqueEmail,
} from "./harness.mjs";

const PASSWORD = "violet-otter-lamp-93";

/** A tiny app origin: an HTML page and the browser bundle of the client. */
async function appServer(clientBundle) {
  const server = createServer((request, response) => {
    if (request.url === "/client.js") {
      response.writeHead(200, { "content-type": "text/javascript" });
      response.end(readFileSync(clientBundle));
    } else {
      response.writeHead(200, { "content-type": "text/html" });
      response.end('<!doctype html><title>app</title><h1>Another origin</h1><p id="out"></p>');
    }
  });
  await new Promise((done) => server.listen(0, "127.0.0.1", done));
  return { server, origin: `http://localhost:${server.address().port}` };
}

let keyward;
let allowed;
let refused;
let browser;

before(async () => {
  const bundle = await bundleClient("browser");
  [allowed, refused] = await Promise.all([appServer(bundle), appServer(bundle)]);
  [keyward, browser] = await Promise.all([
    startKeyward({ KEYWARD_CORS_ALLOWED_ORIGINS: allowed.origin }),
    launchBrowser(),
  ]);
});
after(async () => {
  await browser?.close();
  await keyward?.stop();
  allowed?.server.close();
  refused?.server.close();
});

/** Registers and then asks GetSession (cookie only) from a page on `origin`. */
async function callFrom(origin, email, scenario) {
  const page = await browser.context.newPage();
  const shot = screenshotter(page, scenario);
  await page.goto(`${origin}/`);
  const result = await page.evaluate(
    async ({ keywardOrigin, email, password }) => {
      const { createKeywardClient } = await import("/client.js");
      const client = createKeywardClient({ baseUrl: keywardOrigin });
      const out = document.getElementById("out");
      try {
        const registered = await client.auth.register({ email, password });
        const session = await client.auth.getSession({});
        out.textContent = `registered ${registered.signedIn.user.email}; session of ${session.user.email}`;
        return { ok: true, registered: registered.signedIn.user.email, sessionUser: session.user.email };
      } catch (error) {
        out.textContent = `refused: ${error.message}`;
        return { ok: false, code: error.code, reason: error.reason ?? null, message: error.message };
      }
    },
    { keywardOrigin: keyward.origin, email, password: PASSWORD },
  );
  await shot(result.ok ? "allowed" : "refused");
  await page.close();
  return result;
}

test("an allowed origin calls Keyward over grpc-web with the session cookie", async () => {
  const email = uniqueEmail("cors-ok");
  const result = await callFrom(allowed.origin, email, "cors-allowed");
  assert.deepEqual(result, { ok: true, registered: email, sessionUser: email });
});

test("an origin that is not allowed is refused before the call reaches Keyward", async () => {
  const email = uniqueEmail("cors-refused");
  const result = await callFrom(refused.origin, email, "cors-refused");
  assert.equal(result.ok, false);
  assert.equal(result.reason, null, "a CORS refusal never gets a Keyward reason");
  assert.match(result.message, /fetch/i);

  // The preflight failed, so Register never ran: the account does not exist.
  const { createKeywardClient } = await nodeClient();
  const client = createKeywardClient({ baseUrl: keyward.origin });
  const error = await rejection(() => client.auth.login({ email, password: PASSWORD }));
  assert.equal(error.reason, "INVALID_CREDENTIALS");
});
