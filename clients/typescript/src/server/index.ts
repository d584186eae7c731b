// @keyward/client/server: Keyward from your server — Server Components, route handlers, server
// actions, middleware (Node or Edge: `fetch` only, no DOM, no Node APIs).
//
//   const session = await getSession({ headers: await headers() });   // plain JSON or null
//   const claims = await verifyAccessToken(token);                     // local, cached JWKS

export { getSession } from "./session.js";
export type { GetSessionOptions } from "./session.js";
export { signIn, signOut } from "./actions.js";
export type { ServerSignIn, ServerSignInOptions, ServerSignOut } from "./actions.js";
export { AccessTokenError, verifyAccessToken } from "./access-token.js";
export type { AccessTokenClaims, VerifyAccessTokenOptions } from "./access-token.js";
export { DEFAULT_KEYWARD_URL, getSessionToken, keywardUrl } from "./options.js";
export type { IncomingHeaders, ServerOptions } from "./options.js";
export { SESSION_COOKIE_NAME, formatSetCookie, parseSetCookie, readSessionCookie } from "../cookie.js";
export type { SessionCookie } from "../cookie.js";
export type { SessionData, SessionInfo, SessionUser } from "../session.js";
export { hasReason, isKeywardError } from "./errors.js";
export { ERROR_DOMAIN } from "../reasons.js";
export type { ErrorReasonName, FieldViolation, KeywardCallError, Reason } from "../reasons.js";
