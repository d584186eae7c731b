// Which RPCs the client repeats when the answer is UNAVAILABLE — what a load balancer answers
// when the replica behind it died mid-call, and what Keyward answers (with RetryInfo) while its
// database is away. grpc-web has no service-config retries, so this interceptor does what gRPC's
// retry policy does in the Python client, with the same list and backoff
// (clients/python/src/keyward_client/retries.py). Decided per RPC in docs/scaling.md ("Which
// RPCs a client may retry"): reads, and sign-ins whose lost answer leaves only an unused
// session or ceremony behind. Register, the Finish* steps, Logout/Revoke* and everything that
// mails or spends a single-use token are never repeated: after a lost success the repeat would
// answer EMAIL_TAKEN, CHALLENGE_EXPIRED or UNAUTHENTICATED to the caller whose call succeeded.
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";

/** Service type name → the methods repeated on UNAVAILABLE. */
export const RETRIED_METHODS: ReadonlyMap<string, ReadonlySet<string>> = new Map([
  ["keyward.v1.AuthService", new Set(["GetSession", "ListSessions", "Login", "RefreshSession"])],
  [
    "keyward.v1.PasskeyService",
    new Set(["StartPasskeyLogin", "StartPasskeyRegistration", "StartPasskeyReauthentication", "ListPasskeys"]),
  ],
  ["keyward.v1.OAuthService", new Set(["ListProviders", "StartOAuth", "ListLinkedAccounts"])],
]);

const MAX_ATTEMPTS = 5;
const FIRST_BACKOFF_MS = 50;
const MAX_BACKOFF_MS = 1000;

/** Waits `ms`, or less if `signal` aborts (the call's deadline or the caller's cancellation). */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done);
  });
}

/** Repeats a call of `RETRIED_METHODS` answered UNAVAILABLE: 5 attempts, backoff 50 ms doubling to 1 s. */
export const retryUnavailable: Interceptor = (next) => async (request) => {
  if (request.stream || !RETRIED_METHODS.get(request.service.typeName)?.has(request.method.name)) {
    return next(request);
  }
  let backoff = FIRST_BACKOFF_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await next(request);
    } catch (error) {
      const unavailable = ConnectError.from(error).code === Code.Unavailable;
      if (!unavailable || attempt >= MAX_ATTEMPTS || request.signal.aborted) throw error;
      await pause(backoff, request.signal);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
  }
};
