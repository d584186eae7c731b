// The client's retry of UNAVAILABLE (src/retries.ts) on the wire: a stand-in fetch answers the
// first call of an RPC 503 — what a load balancer answers for a call whose replica died under
// it — and a well-formed grpc-web answer after that. A stand-in, because a real Keyward cannot
// be made to fail exactly once on cue; `scripts/cluster test` kills real replicas behind HAProxy.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { nodeClient } from "./harness.mjs";

let lib;
before(async () => {
  lib = await nodeClient();
});

/** An empty message and an OK trailer, framed as grpc-web. */
function grpcWebOk() {
  const trailer = new TextEncoder().encode("grpc-status: 0\r\n");
  const body = new Uint8Array(5 + 5 + trailer.length);
  body.set([0x80, 0, 0, 0, trailer.length], 5);
  body.set(trailer, 10);
  return new Response(body, { status: 200, headers: { "content-type": "application/grpc-web+proto" } });
}

/** A fetch whose first call of each path answers 503; counts the calls per path. */
function flakyFetch() {
  const calls = new Map();
  const fetch = async (input) => {
    const path = new URL(input instanceof Request ? input.url : String(input)).pathname;
    calls.set(path, (calls.get(path) ?? 0) + 1);
    if (calls.get(path) === 1) return new Response("replica gone", { status: 503 });
    return grpcWebOk();
  };
  return { fetch, calls };
}

test("an idempotent call answered UNAVAILABLE is repeated", async () => {
  const { fetch, calls } = flakyFetch();
  const keyward = lib.createKeywardClient({ baseUrl: "http://keyward.test", fetch, token: "t" });
  await keyward.auth.getSession({});
  assert.equal(calls.get("/keyward.v1.AuthService/GetSession"), 2);
});

test("Register is never repeated", async () => {
  const { fetch, calls } = flakyFetch();
  const keyward = lib.createKeywardClient({ baseUrl: "http://keyward.test", fetch });
  // Code.Unavailable: the caller sees the failure and decides (its account may exist).
  await assert.rejects(keyward.auth.register({ email: "ada@example.com", password: "violet-otter-lamp-93" }), {
    code: 14,
  });
  assert.equal(calls.get("/keyward.v1.AuthService/Register"), 1);
  assert.equal(lib.RETRIED_METHODS.get("keyward.v1.AuthService").has("Register"), false);
});

test("retries can be turned off", async () => {
  const { fetch, calls } = flakyFetch();
  const keyward = lib.createKeywardClient({ baseUrl: "http://keyward.test", fetch, token: "t", retryUnavailable: false });
  await assert.rejects(keyward.auth.getSession({}));
  assert.equal(calls.get("/keyward.v1.AuthService/GetSession"), 1);
});
