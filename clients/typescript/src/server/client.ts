// How the server helpers reach Keyward: grpc-web over `fetch` (all the Edge runtime has), with no
// cookies and no browser credentials mode: the session travels as `authorization: Bearer`, so a
// server-to-server call is not subject to the browser rules (CORS, CSRF/Origin checks) that
// guard the cookie. Internal: nothing public names these types.

import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { keywardErrors } from "../errors.js";
import { AuthService } from "../gen/keyward/v1/auth_pb.js";
import { PasskeyService } from "../gen/keyward/v1/passkey_pb.js";
import { VerificationService } from "../gen/keyward/v1/verification_pb.js";
import { retryUnavailable } from "../retries.js";
import { type ServerOptions, keywardUrl } from "./options.js";

/** An AuthService client for one server-side call. Failures are KeywardErrors. */
export function authClient(options: ServerOptions): Client<typeof AuthService> {
  return createClient(AuthService, transport(options));
}

/** A VerificationService client (mailed links and codes). */
export function verificationClient(options: ServerOptions): Client<typeof VerificationService> {
  return createClient(VerificationService, transport(options));
}

/** A PasskeyService client (listing and deleting; adding needs the browser). */
export function passkeyClient(options: ServerOptions): Client<typeof PasskeyService> {
  return createClient(PasskeyService, transport(options));
}

function transport(options: ServerOptions) {
  return createGrpcWebTransport({
    baseUrl: keywardUrl(options),
    // Looked up per call, so a fetch patched later (Next.js, tests) is the one used.
    fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    interceptors: [keywardErrors, retryUnavailable],
    defaultTimeoutMs: options.timeoutMs ?? 10_000,
  });
}

