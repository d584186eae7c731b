// A webhook receiver for Keyward's integration tests (tests/it/webhooks.rs), as a customer would
// write one: every delivery is verified with the Standard Webhooks reference library
// (`standardwebhooks` on npm), and answered 400 when it does not verify. For the tests it also
// checks that a tampered copy of each delivery fails verification, and it can be told how to
// answer: `accept` (204), `fail` (503, as if down) or `redirect` (302 to /redirected, which
// records any request that follows it).
//
//   node receiver.mjs <whsec_ secret> [port]   prints {"port": N} once listening on 127.0.0.1
//   POST /hook             a delivery
//   POST /control?mode=…   how to answer from now on
//   GET  /received         {"deliveries": [...], "followed_redirects": N}
//   GET  /wait?accepted=N  answers {"accepted": n} once n >= N deliveries were accepted (a test
//                          waits on events, not on time; its own timeout bounds the wait)
import { createServer } from "node:http";
import { Webhook } from "standardwebhooks";

const webhook = new Webhook(process.argv[2]);
const deliveries = [];
let followedRedirects = 0;
let mode = "accept";
// Requests waiting for a number of accepted deliveries: [{ count, response }].
let waiting = [];

function acceptedCount() {
  return deliveries.filter((delivery) => delivery.answered === 204).length;
}

function answerWaiting() {
  const accepted = acceptedCount();
  waiting = waiting.filter(({ count, response }) => {
    if (accepted < count) return true;
    json(response, 200, { accepted });
    return false;
  });
}

function readBody(request) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    request.on("error", reject);
  });
}

function verifies(body, headers) {
  try {
    webhook.verify(body, headers);
    return true;
  } catch {
    return false;
  }
}

function json(response, status, value) {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify(value));
}

const server = createServer(async (request, response) => {
  const url = new URL(request.url, "http://127.0.0.1");
  const body = await readBody(request);
  if (url.pathname === "/control") {
    mode = url.searchParams.get("mode");
    return json(response, 200, { mode });
  }
  if (url.pathname === "/received") {
    return json(response, 200, { deliveries, followed_redirects: followedRedirects });
  }
  if (url.pathname === "/wait") {
    waiting.push({ count: Number(url.searchParams.get("accepted")), response });
    return answerWaiting();
  }
  if (url.pathname === "/redirected") {
    followedRedirects += 1;
    return json(response, 204, {});
  }
  const verified = verifies(body, request.headers);
  // One changed byte of the body, same headers: must not verify.
  const tampered = body.replace(/"type":"/, '"type":"x');
  const tamperedVerified = verifies(tampered, request.headers);
  if (!verified) {
    deliveries.push({ id: request.headers["webhook-id"], verified, answered: 400 });
    return json(response, 400, { error: "signature" });
  }
  const answered = mode === "accept" ? 204 : mode === "redirect" ? 302 : 503;
  deliveries.push({
    id: request.headers["webhook-id"],
    timestamp: request.headers["webhook-timestamp"],
    verified,
    tampered_verified: tamperedVerified,
    answered,
    event: JSON.parse(body),
  });
  answerWaiting();
  if (answered === 302) {
    response.writeHead(302, { location: "/redirected" });
    return response.end();
  }
  response.writeHead(answered);
  response.end();
});

server.listen(Number(process.argv[3] ?? 0), "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
