// `getSession`: who is behind the incoming request, as plain JSON, in one line.

import { hasReason } from "./errors.js";
import { type SessionData, toSessionData } from "../session.js";
import { authClient } from "./client.js";
import { type IncomingHeaders, type ServerOptions, callHeaders, sessionToken } from "./options.js";

export interface GetSessionOptions extends ServerOptions {
  /**
   * The incoming request's headers: `await headers()` in a Server Component or server action,
   * `request.headers` in a route handler or middleware, `req.headers` in Node.
   */
  headers: IncomingHeaders;
}

/**
 * The session of the browser behind `headers`, or `null` when it is signed out, its cookie is
 * not a session Keyward knows, or the session ended. Throws (a KeywardError) only when Keyward
 * cannot answer — an outage must not look like a sign-out.
 *
 * It reads Keyward's session cookie (else an Auth.js session cookie, for sessions imported from
 * Auth.js: see `AUTHJS_SESSION_COOKIE_NAMES`) and sends its value to Keyward's GetSession (the
 * authoritative check, which sees revocation) as a bearer token. Uses `fetch` only: Server
 * Components, route handlers, server actions and middleware, on Node or the Edge runtime.
 *
 * ```ts
 * const session = await getSession({ headers: await headers() });
 * ```
 */
export async function getSession(options: GetSessionOptions): Promise<SessionData | null> {
  const token = sessionToken(options.headers, options);
  if (!token) return null;
  try {
    const response = await authClient(options).getSession({}, { headers: callHeaders(token, options.headers) });
    return toSessionData(response);
  } catch (error) {
    if (hasReason(error, "NOT_SIGNED_IN", "SESSION_INVALID")) return null;
    throw error;
  }
}
