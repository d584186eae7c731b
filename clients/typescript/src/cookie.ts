// Keyward's session cookie: its name, reading it from a Cookie header, and reading the one a
// sign-in answered with from Set-Cookie. No DOM, no Node APIs: used by the server helpers (also
// on the Edge runtime) and the browser client alike.

/**
 * The name of the HttpOnly cookie that carries the session token for browsers (Keyward's
 * default): `__Host-` binds it to Keyward's host (Secure, Path=/, no Domain), so no sibling
 * subdomain can set or shadow it. The server sets it on every sign-in over grpc-web; pass
 * `cookieName` to the server helpers when your Keyward is configured otherwise
 * (`__Secure-keyward_session` with `cookie_domain`, `keyward_session` with `cookie_secure = false`).
 */
export const SESSION_COOKIE_NAME = "__Host-keyward_session";

/**
 * The session cookies of Auth.js (5: `authjs.…`) and NextAuth.js (4: `next-auth.…`), `__Secure-`
 * first as Auth.js names them on https. A session imported with `keyward import authjs` accepts
 * the Auth.js cookie's value as its token, so the server helpers read these after Keyward's own
 * (in this order), and `adoptAuthjsSession` moves one into Keyward's cookie.
 */
export const AUTHJS_SESSION_COOKIE_NAMES = [
  "__Secure-authjs.session-token",
  "authjs.session-token",
  "__Secure-next-auth.session-token",
  "next-auth.session-token",
] as const;

/**
 * better-auth's session cookie, `__Secure-` first (its name on https). Its value is
 * `token.signature`, URI-encoded; a session imported with `keyward import better-auth` accepts it
 * as it is (Keyward checks the signature with the app's secret), so the server helpers read these
 * after Auth.js's, URI-decoded (`readBetterAuthSessionCookie`).
 */
export const BETTER_AUTH_SESSION_COOKIE_NAMES = [
  "__Secure-better-auth.session_token",
  "better-auth.session_token",
] as const;

/** The longest cookie value taken for a session token (Keyward's are 43 characters). */
const MAX_TOKEN_CHARS = 4096;
/** RFC 6750 b64token: what may follow `Bearer ` in an authorization header. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** The raw value of cookie `name` in a `Cookie` request header. */
function cookieValue(cookieHeader: string | null | undefined, name: string): string | undefined {
  if (!cookieHeader) return undefined;
  for (const pair of cookieHeader.split(";")) {
    const eq = pair.indexOf("=");
    if (eq < 0 || pair.slice(0, eq).trim() !== name) continue;
    return pair.slice(eq + 1).trim();
  }
  return undefined;
}

/** `value` if it can be a session token: anything else is treated as no cookie, never
 * forwarded into a header. */
function tokenShaped(value: string | undefined): string | undefined {
  return value !== undefined && value.length <= MAX_TOKEN_CHARS && B64TOKEN.test(value) ? value : undefined;
}

/** The value of cookie `name` in a `Cookie` request header, if present and token-shaped. */
export function readSessionCookie(cookieHeader: string | null | undefined, name: string): string | undefined {
  return tokenShaped(cookieValue(cookieHeader, name));
}

/** A better-auth session cookie's value, URI-decoded (`token.signature`), if present and token-shaped. */
export function readBetterAuthSessionCookie(cookieHeader: string | null | undefined, name: string): string | undefined {
  const raw = cookieValue(cookieHeader, name);
  if (raw === undefined || raw.length > MAX_TOKEN_CHARS) return undefined;
  try {
    return tokenShaped(decodeURIComponent(raw));
  } catch {
    return undefined;
  }
}

/**
 * A cookie to put on your app's response, in the shape Next.js's `cookies().set(...)` and most
 * cookie libraries take. `setCookie` is the same as a `Set-Cookie` header line.
 */
export interface SessionCookie {
  name: string;
  value: string;
  httpOnly: boolean;
  secure: boolean;
  sameSite: "lax" | "strict" | "none";
  path: string;
  /** Seconds; 0 deletes the cookie. */
  maxAge: number;
  /** Present only when Keyward is configured with a `cookie_domain`. */
  domain?: string;
}

/** Parses one `Set-Cookie` line; undefined when it is not cookie `name`. */
export function parseSetCookie(line: string, name: string): SessionCookie | undefined {
  const [pair = "", ...attributes] = line.split(";");
  const eq = pair.indexOf("=");
  if (eq < 0 || pair.slice(0, eq).trim() !== name) return undefined;
  const cookie: SessionCookie = {
    name,
    value: pair.slice(eq + 1).trim(),
    httpOnly: false,
    secure: false,
    sameSite: "lax",
    path: "/",
    maxAge: 0,
  };
  for (const attribute of attributes) {
    const [rawKey = "", ...rest] = attribute.split("=");
    const key = rawKey.trim().toLowerCase();
    const value = rest.join("=").trim();
    if (key === "httponly") cookie.httpOnly = true;
    else if (key === "secure") cookie.secure = true;
    else if (key === "path") cookie.path = value || "/";
    else if (key === "domain" && value) cookie.domain = value;
    else if (key === "max-age") cookie.maxAge = Math.max(0, Number.parseInt(value, 10) || 0);
    else if (key === "samesite") {
      const sameSite = value.toLowerCase();
      if (sameSite === "lax" || sameSite === "strict" || sameSite === "none") cookie.sameSite = sameSite;
    }
  }
  return cookie;
}

/** The `Set-Cookie` header line for `cookie`. */
export function formatSetCookie(cookie: SessionCookie): string {
  const sameSite = cookie.sameSite[0]!.toUpperCase() + cookie.sameSite.slice(1);
  return [
    `${cookie.name}=${cookie.value}`,
    `Path=${cookie.path}`,
    `Max-Age=${cookie.maxAge}`,
    ...(cookie.domain ? [`Domain=${cookie.domain}`] : []),
    `SameSite=${sameSite}`,
    ...(cookie.secure ? ["Secure"] : []),
    ...(cookie.httpOnly ? ["HttpOnly"] : []),
  ].join("; ");
}
