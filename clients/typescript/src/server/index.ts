// @keyward/client/server: Keyward from your server — Server Components, route handlers, server
// actions, middleware (Node or Edge: `fetch` only, no DOM, no Node APIs).
//
//   const session = await getSession({ headers: await headers() });   // plain JSON or null
//   const claims = await verifyAccessToken(token);                     // local, cached JWKS

export { getSession } from "./session.js";
export type { GetSessionOptions } from "./session.js";
export { signIn, signOut, signUp } from "./actions.js";
export { passkeys, requestPasswordReset, resetPassword, sendMagicLink, sendVerificationEmail, verifyEmail } from "./account.js";
export type { MailOptions, OnBehalfOptions } from "./account.js";
export type { MailedProof } from "../mailed.js";
export type { PasskeyInfo } from "../passkey-info.js";
export type { ServerSignIn, ServerSignInOptions, ServerSignOut } from "./actions.js";
export { AccessTokenError, verifyAccessToken } from "./access-token.js";
export type { AccessTokenClaims, VerifyAccessTokenOptions } from "./access-token.js";
export { DEFAULT_KEYWARD_URL, getSessionToken, keywardUrl } from "./options.js";
export type { IncomingHeaders, ServerOptions } from "./options.js";
export {
  AUTHJS_SESSION_COOKIE_NAMES,
  BETTER_AUTH_SESSION_COOKIE_NAMES,
  SESSION_COOKIE_NAME,
  formatSetCookie,
  parseSetCookie,
  readBetterAuthSessionCookie,
  readSessionCookie,
} from "../cookie.js";
export { adoptAuthjsSession } from "./authjs.js";
export type { AdoptedSession } from "./authjs.js";
export type { SessionCookie } from "../cookie.js";
export type { SessionData, SessionInfo, SessionUser } from "../session.js";
export { hasRole } from "../roles.js";
export type { HasRoles } from "../roles.js";
export { hasReason, isKeywardError } from "./errors.js";
export { ERROR_DOMAIN } from "../reasons.js";
export type { ErrorReasonName, FieldViolation, KeywardCallError, Reason } from "../reasons.js";
