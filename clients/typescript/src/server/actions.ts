// Sign-in and sign-out from a server action or route handler: Keyward answers with the session
// cookie in `Set-Cookie`, which these hand back for the app to put on its own response (the app
// and Keyward share an origin through the `/keyward` rewrite, so the cookie is first-party).

import { formatSetCookie, parseSetCookie, type SessionCookie, SESSION_COOKIE_NAME } from "../cookie.js";
import { hasReason } from "./errors.js";
import { type SessionData, toSessionData } from "../session.js";
import type { SignedIn } from "../gen/keyward/v1/resources_pb.js";
import { type MailedProof, proofFields } from "../mailed.js";
import { authClient, verificationClient } from "./client.js";
import { type IncomingHeaders, type ServerOptions, callHeaders, sessionToken, setCookieLines } from "./options.js";

export interface ServerSignInOptions extends ServerOptions {
  /** The incoming request's headers, so the new session records the browser's user agent. */
  headers?: IncomingHeaders;
}

/** What a server-side sign-in returns. */
export interface ServerSignIn {
  session: SessionData;
  /** The session cookie, for `(await cookies()).set(result.cookie)` in Next.js. */
  cookie: SessionCookie;
  /** The same cookie as a `Set-Cookie` header line, for a `Response` you build yourself. */
  setCookie: string;
}

/** What a server-side sign-out returns: the cookie that deletes the session cookie. */
export interface ServerSignOut {
  cookie: SessionCookie;
  setCookie: string;
}

/** The session cookie among a response's `Set-Cookie` lines. */
function cookieFrom(headers: Headers | undefined, name: string): SessionCookie | undefined {
  if (!headers) return undefined;
  for (const line of setCookieLines(headers)) {
    const cookie = parseSetCookie(line, name);
    if (cookie) return cookie;
  }
  return undefined;
}

/**
 * Server-side sign-in. Failures are KeywardErrors: `INVALID_CREDENTIALS` for a wrong email or
 * password, field reasons (`INVALID_EMAIL`, …) for bad input.
 *
 * The token is taken from Keyward's `Set-Cookie`, never from the response body: Keyward does not
 * put the session token in the body of an answer to a cookie (grpc-web) caller.
 */
export const signIn = {
  async password(input: { email: string; password: string } & ServerSignInOptions): Promise<ServerSignIn> {
    const { email, password, ...options } = input;
    return withSessionCookie(options, (call) => authClient(options).login({ email, password }, call));
  },
  /** With a magic link's token, or the address and the code from its mail. */
  async magicLink(input: MailedProof & ServerSignInOptions): Promise<ServerSignIn> {
    const fields = proofFields(input);
    return withSessionCookie(input, (call) => verificationClient(input).signInWithMagicLink(fields, call));
  },
};

/** Server-side sign-up: a new account with a password, signed in (the same result as `signIn`). */
export const signUp = {
  async password(input: { email: string; password: string; name?: string } & ServerSignInOptions): Promise<ServerSignIn> {
    const { email, password, name = "", ...options } = input;
    return withSessionCookie(options, (call) => authClient(options).register({ email, password, name }, call));
  },
};

/** What a sign-in RPC call gets: the incoming user agent, and a hook for the answer's headers. */
interface SignInCall {
  headers: Record<string, string>;
  onHeader(headers: Headers): void;
}

/** Runs a sign-in RPC and takes the session from its `Set-Cookie`. */
async function withSessionCookie(
  options: ServerSignInOptions,
  call: (call: SignInCall) => Promise<{ signedIn?: SignedIn | undefined }>,
): Promise<ServerSignIn> {
  const name = options.cookieName ?? SESSION_COOKIE_NAME;
  let responseHeaders: Headers | undefined;
  const response = await call({ headers: callHeaders(undefined, options.headers), onHeader: (headers) => (responseHeaders = headers) });
  const cookie = cookieFrom(responseHeaders, name);
  if (!cookie?.value) {
    throw new Error(`Keyward signed in but set no "${name}" cookie: is cookieName the one Keyward uses?`);
  }
  return { session: toSessionData(response.signedIn ?? {}), cookie, setCookie: formatSetCookie(cookie) };
}

/**
 * Server-side sign-out: ends the session behind the incoming request's cookie (if any) and
 * returns the cookie that deletes it in the browser. Signing out twice is not an error.
 */
export async function signOut(options: ServerOptions & { headers: IncomingHeaders }): Promise<ServerSignOut> {
  const name = options.cookieName ?? SESSION_COOKIE_NAME;
  const token = sessionToken(options.headers, options);
  let responseHeaders: Headers | undefined;
  if (token) {
    try {
      await authClient(options).logout(
        {},
        { headers: callHeaders(token, options.headers), onHeader: (headers) => (responseHeaders = headers) },
      );
    } catch (error) {
      if (!hasReason(error, "NOT_SIGNED_IN", "SESSION_INVALID")) throw error;
    }
  }
  // Keyward's own deletion carries the cookie's exact attributes (Domain, Secure); without one
  // (no cookie came, or the session had already ended), the default attributes do.
  const cookie = cookieFrom(responseHeaders, name) ?? {
    name,
    value: "",
    httpOnly: true,
    secure: true,
    sameSite: "lax",
    path: "/",
    maxAge: 0,
  };
  return { cookie, setCookie: formatSetCookie(cookie) };
}
