// `adoptAuthjsSession`: the switch from Auth.js without signing anyone out. `keyward import
// authjs` imports Auth.js's database sessions with their tokens, so the Auth.js cookie's value is
// already a Keyward session token. In the proxy (middleware), this moves it into Keyward's cookie
// once — the same secret under Keyward's name, HttpOnly — and deletes the Auth.js cookie, so from
// the next request on the browser's own grpc-web calls (useSession, signOut) see the session too.
// The same for better-auth (`keyward import better-auth`): its cookie's decoded value, the signed
// `token.signature`, is accepted by Keyward as a session token once the app's secret was imported.

import { SESSION_COOKIE_NAME, type SessionCookie, formatSetCookie, readSessionCookie } from "../cookie.js";
import type { SessionData } from "../session.js";
import { getSession } from "./session.js";
import { type IncomingHeaders, type ServerOptions, foreignSessionCookieNames, incomingHeader, readForeignOrOwn } from "./options.js";

/** What `adoptAuthjsSession` found: the session, and the cookies to put on the response. */
export interface AdoptedSession {
  session: SessionData;
  /** Keyward's session cookie (the Auth.js token), then a deletion for each Auth.js cookie sent. */
  cookies: SessionCookie[];
  /** The same as `Set-Cookie` header lines. */
  setCookies: string[];
}

/**
 * When the request carries an Auth.js session cookie and no Keyward one, and Keyward knows that
 * session (imported, live): the session and the cookies that move it to Keyward's cookie. Else
 * null (nothing to do). It calls Keyward only for a request with an Auth.js cookie and no Keyward
 * one: once per browser for an imported session, but on every such request for an Auth.js cookie
 * Keyward does not know (a JWT-strategy cookie, an ended session), which is left alone — drop the
 * proxy step (or set `authjsCookies: false`) once the switch is over.
 *
 * ```ts
 * // proxy.ts
 * const adopted = await adoptAuthjsSession({ headers: request.headers });
 * const response = NextResponse.next();
 * for (const cookie of adopted?.cookies ?? []) response.cookies.set(cookie);
 * ```
 */
export async function adoptAuthjsSession(options: ServerOptions & { headers: IncomingHeaders }): Promise<AdoptedSession | null> {
  const header = incomingHeader(options.headers, "cookie");
  const keywardName = options.cookieName ?? SESSION_COOKIE_NAME;
  if (readSessionCookie(header, keywardName)) return null;
  // Auth.js's cookies, then better-auth's (its value URI-decoded: `token.signature`, which
  // Keyward accepts in its own cookie too).
  const sent = foreignSessionCookieNames(options).filter((name) => readForeignOrOwn(header, name));
  const token = sent.length ? readForeignOrOwn(header, sent[0]!) : undefined;
  if (!token) return null;
  const session = await getSession({ ...options, cookieName: keywardName, headers: { cookie: `${keywardName}=${token}` } });
  if (!session) return null;
  const maxAge = Math.max(0, Math.floor((Date.parse(session.session.absoluteExpiresAt) - Date.now()) / 1000));
  const cookies: SessionCookie[] = [
    // As Keyward sets its own: a `__Host-` cookie is Secure, Path=/, without Domain.
    { name: keywardName, value: token, httpOnly: true, secure: true, sameSite: "lax", path: "/", maxAge },
    // `__Secure-` names must be deleted with Secure; the others as Auth.js set them on http.
    ...sent.map((name) => ({ name, value: "", httpOnly: true, secure: name.startsWith("__Secure-"), sameSite: "lax" as const, path: "/", maxAge: 0 })),
  ];
  return { session, cookies, setCookies: cookies.map(formatSetCookie) };
}
