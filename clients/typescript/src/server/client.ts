// How the server helpers reach Keyward: grpc-web over `fetch` (all the Edge runtime has), with no
// cookies and no browser credentials mode: the session travels as `authorization: Bearer`, so a
// server-to-server call is not subject to the browser rules (CORS, CSRF/Origin checks) that
// guard the cookie. Internal: nothing public names these types.

import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { keywardErrors } from "../errors.js";
import { AuthService } from "../gen/keyward/v1/auth_pb.js";
import { retryUnavailable } from "../retries.js";
import { type ServerOptions, keywardUrl } from "./options.js";

/** An AuthService client for one server-side call. Failures are KeywardErrors. */
export function authClient(options: ServerOptions): Client<typeof AuthService> {
  const transport = createGrpcWebTransport({
    baseUrl: keywardUrl(options),
    // Looked up per call, so a fetch patched later (Next.js, tests) is the one used.
    fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    interceptors: [keywardErrors, retryUnavailable],
    defaultTimeoutMs: options.timeoutMs ?? 10_000,
  });
  return createClient(AuthService, transport);
}

