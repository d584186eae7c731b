// What every server helper takes and shares: options, the incoming request's headers, the
// session cookie's value. Plain types only (no transport types in the declarations).

import {
  AUTHJS_SESSION_COOKIE_NAMES,
  BETTER_AUTH_SESSION_COOKIE_NAMES,
  readBetterAuthSessionCookie,
  readSessionCookie,
  SESSION_COOKIE_NAME,
} from "../cookie.js";

/** Where Keyward listens when neither `baseUrl` nor `KEYWARD_URL` says: its default address. */
export const DEFAULT_KEYWARD_URL = "http://127.0.0.1:50051";

/** The incoming request's headers: `await headers()`, `request.headers`, or Node's `req.headers`. */
export type IncomingHeaders =
  | { get(name: string): string | null }
  | Readonly<Record<string, string | readonly string[] | undefined>>;

/** Options every server helper takes. */
export interface ServerOptions {
  /**
   * Keyward's address as this server reaches it (server to server, not the browser's
   * `/keyward` rewrite). Default: the `KEYWARD_URL` environment variable, else
   * `http://127.0.0.1:50051`.
   */
  baseUrl?: string;
  /** The session cookie's name, when Keyward is configured with another one. */
  cookieName?: string;
  /**
   * Also read Auth.js's session cookies (`AUTHJS_SESSION_COOKIE_NAMES`, after Keyward's), so a
   * session imported from Auth.js stays signed in through the switch. Default true; turn it off
   * once no Auth.js session can be live any more.
   */
  authjsCookies?: boolean;
  /**
   * Also read better-auth's session cookie (`BETTER_AUTH_SESSION_COOKIE_NAMES`, after Auth.js's),
   * so a session imported with `keyward import better-auth` stays signed in through the switch.
   * Default true.
   */
  betterAuthCookies?: boolean;
  /** Deadline for the call to Keyward, in milliseconds (default 10 000). */
  timeoutMs?: number;
  /** A `fetch` to use instead of the global one. */
  fetch?: typeof globalThis.fetch;
}

/** A variable from the environment, where there is one (Node and Next.js's Edge runtime). */
export function environment(name: string): string | undefined {
  const process = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  return process?.env?.[name] || undefined;
}

/** Keyward's address for server-side calls: `baseUrl`, else `KEYWARD_URL`, else the default. */
export function keywardUrl(options: Pick<ServerOptions, "baseUrl"> = {}): string {
  return options.baseUrl ?? environment("KEYWARD_URL") ?? DEFAULT_KEYWARD_URL;
}

/** One header of the incoming request. */
export function incomingHeader(headers: IncomingHeaders | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof headers.get === "function") return (headers as { get(name: string): string | null }).get(name) ?? undefined;
  const value = (headers as Readonly<Record<string, string | readonly string[] | undefined>>)[name];
  return Array.isArray(value) ? value.join("; ") : (value as string | undefined);
}

/**
 * The session token from the incoming request's cookies: Keyward's (`cookieName`), else the first
 * Auth.js session cookie present (unless `authjsCookies` is false). Only the first cookie found is
 * used: one call to Keyward per request, whatever the browser sends.
 */
export function sessionToken(headers: IncomingHeaders | undefined, options: ServerOptions): string | undefined {
  return sessionCookie(headers, options)?.value;
}

/** The session cookie `sessionToken` takes, by name and value. */
export function sessionCookie(
  headers: IncomingHeaders | undefined,
  options: Pick<ServerOptions, "cookieName" | "authjsCookies" | "betterAuthCookies">,
): { name: string; value: string } | undefined {
  const header = incomingHeader(headers, "cookie");
  const names = [options.cookieName ?? SESSION_COOKIE_NAME, ...foreignSessionCookieNames(options)];
  for (const name of names) {
    const value = readForeignOrOwn(header, name);
    if (value) return { name, value };
  }
  return undefined;
}

/** The other libraries' session cookies the options let the helpers read, in order. */
export function foreignSessionCookieNames(options: Pick<ServerOptions, "authjsCookies" | "betterAuthCookies">): string[] {
  return [
    ...(options.authjsCookies === false ? [] : AUTHJS_SESSION_COOKIE_NAMES),
    ...(options.betterAuthCookies === false ? [] : BETTER_AUTH_SESSION_COOKIE_NAMES),
  ];
}

/** Cookie `name`'s token: better-auth's URI-decoded, every other one as it is. */
export function readForeignOrOwn(header: string | undefined, name: string): string | undefined {
  return (BETTER_AUTH_SESSION_COOKIE_NAMES as readonly string[]).includes(name)
    ? readBetterAuthSessionCookie(header, name)
    : readSessionCookie(header, name);
}

/**
 * The session token in the incoming request's Keyward cookie, to call any other Keyward RPC on
 * the user's behalf (`createKeywardClient({ baseUrl: keywardUrl(), token })`). Undefined when there
 * is none. It is the user's credential: keep it on the server, never render or log it.
 */
export function getSessionToken(options: Pick<ServerOptions, "cookieName" | "authjsCookies"> & { headers: IncomingHeaders }): string | undefined {
  return sessionToken(options.headers, options);
}

/** Headers for a call made on behalf of the incoming request. */
export function callHeaders(token: string | undefined, incoming: IncomingHeaders | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  if (token) headers["authorization"] = `Bearer ${token}`;
  // The session list shows the browser the session was made from, not this server.
  const userAgent = incomingHeader(incoming, "user-agent");
  if (userAgent) headers["user-agent"] = userAgent;
  return headers;
}

/** Every `Set-Cookie` line of a response. */
export function setCookieLines(headers: Headers): string[] {
  const withGetter = headers as Headers & { getSetCookie?: () => string[] };
  if (typeof withGetter.getSetCookie === "function") return withGetter.getSetCookie();
  const joined = headers.get("set-cookie");
  // Keyward's cookies carry Max-Age, never Expires, so a comma only ever separates cookies.
  return joined ? joined.split(/,(?=\s*[^;,=\s]+=)/).map((line) => line.trim()) : [];
}
