import type { DescService } from "@bufbuild/protobuf";
import { type Client, type Interceptor, type Transport, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { keywardErrors } from "./errors.js";
import { AuthService } from "./gen/keyward/v1/auth_pb.js";
import { OAuthService } from "./gen/keyward/v1/oauth_pb.js";
import { PasskeyService } from "./gen/keyward/v1/passkey_pb.js";
import { VerificationService } from "./gen/keyward/v1/verification_pb.js";
import { retryUnavailable } from "./retries.js";

export interface KeywardClientOptions {
  /** Where Keyward serves grpc-web, e.g. `https://id.example.com` or `/` for the same origin. */
  baseUrl: string;
  /**
   * Fetch credentials mode. The default, `include`, sends and accepts the HttpOnly session
   * cookie (`SESSION_COOKIE_NAME`) that every sign-in sets, also across origins (the server must
   * list this page's origin in `cors_allowed_origins`). In a browser the sign-in answers then
   * carry an empty `sessionToken`: only the cookie holds it.
   */
  credentials?: RequestCredentials;
  /**
   * A session token or access token sent as `authorization: Bearer …` (native apps, servers,
   * tests). Browsers usually leave this unset and let the cookie do the work.
   */
  token?: string | (() => string | undefined);
  /** Extra interceptors, run before the error translation. */
  interceptors?: Interceptor[];
  /** Fetch implementation (defaults to `globalThis.fetch`). */
  fetch?: typeof globalThis.fetch;
  /** Default deadline for every call, in milliseconds (retries included). */
  timeoutMs?: number;
  /**
   * Repeat the calls whose repetition is harmless when the answer is UNAVAILABLE (a replica that
   * died behind the load balancer, a database failover): `RETRIED_METHODS`. Default true.
   */
  retryUnavailable?: boolean;
}

/** Typed clients for every Keyward service, over one grpc-web transport. */
export interface KeywardClient {
  readonly auth: Client<typeof AuthService>;
  readonly passkeys: Client<typeof PasskeyService>;
  readonly oauth: Client<typeof OAuthService>;
  /** Mailed links: password reset, email verification, magic-link sign-in. */
  readonly verification: Client<typeof VerificationService>;
  readonly transport: Transport;
  /** A client for any other service descriptor. */
  service<S extends DescService>(service: S): Client<S>;
}

export function createKeywardClient(options: KeywardClientOptions): KeywardClient {
  const credentials = options.credentials ?? "include";
  const baseFetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const bearer: Interceptor = (next) => (request) => {
    const token = typeof options.token === "function" ? options.token() : options.token;
    if (token) request.header.set("authorization", `Bearer ${token}`);
    return next(request);
  };
  const transport = createGrpcWebTransport({
    baseUrl: options.baseUrl,
    fetch: (input, init) => baseFetch(input, { ...init, credentials }),
    interceptors: [
      keywardErrors,
      ...(options.retryUnavailable === false ? [] : [retryUnavailable]),
      bearer,
      ...(options.interceptors ?? []),
    ],
    ...(options.timeoutMs === undefined ? {} : { defaultTimeoutMs: options.timeoutMs }),
  });
  return {
    auth: createClient(AuthService, transport),
    passkeys: createClient(PasskeyService, transport),
    oauth: createClient(OAuthService, transport),
    verification: createClient(VerificationService, transport),
    transport,
    service: (service) => createClient(service, transport),
  };
}
