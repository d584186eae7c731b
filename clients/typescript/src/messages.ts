// What to tell a user about a failure: a sentence for every ErrorInfo reason Keyward sends, the
// browser's WebAuthn refusals, and transport failures. The built-in sign-in page says exactly
// these; apps show them with `describeError(error)` instead of writing their own table.

import { Code } from "@connectrpc/connect";
import { type ErrorReasonName, KeywardError } from "./errors.js";
import { PasskeyCeremonyError } from "./passkeys.js";
import { ProviderStateMismatchError } from "./providers.js";

/** What to say for a required field left empty, by proto field name. */
const REQUIRED_MESSAGES: Record<string, string> = {
  email: "Enter your email address.",
  password: "Enter a password.",
  name: "Enter a name.",
  new_password: "Enter a new password.",
  current_password: "Enter your current password.",
  new_email: "Enter the new email address.",
  code: "Enter the 6-digit code from the mail.",
};

/** The server's field description ("password must be at least 8 characters") as a sentence. */
function sentence(text: string): string {
  const trimmed = text.trim();
  if (!trimmed) return "This value was not accepted.";
  const capitalised = trimmed[0]!.toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capitalised) ? capitalised : `${capitalised}.`;
}

/**
 * Fixed texts per reason; `null` means "the server's field description, as a sentence". Typed
 * against the published enum: a reason without a message fails `tsc`.
 */
export const REASON_MESSAGES: Record<ErrorReasonName, string | null> = {
  INVALID_CREDENTIALS: "That email and password don't match an account. Check both and try again.",
  EMAIL_TAKEN: "An account with this email already exists. Sign in instead.",
  INVALID_EMAIL: "Enter a valid email address, like name@example.com.",
  PASSWORD_TOO_SHORT: null,
  PASSWORD_TOO_LONG: null,
  PASSWORD_TOO_COMMON: "This password is too common or too easy to guess. Choose a longer, less predictable one.",
  PASSWORD_INCORRECT: "That password is not correct.",
  FIELD_REQUIRED: null,
  FIELD_TOO_LONG: null,
  FIELD_MALFORMED: null,
  INVALID_PAGE_TOKEN: "The list changed while you were paging through it. Reload the page.",
  INVALID_PAGE_SIZE: "The page asked for an invalid number of items. Reload the page.",
  NOT_SIGNED_IN: "You are signed out. Sign in to continue.",
  SESSION_INVALID: "Your session has ended. Sign in again.",
  SESSION_TOKEN_REQUIRED: "This needs a full session, not an access token. Sign in again.",
  SESSION_NOT_FOUND: "That session no longer exists.",
  NO_PASSWORD: "This account has no password. Sign in with a passkey instead.",
  NO_PASSKEY: "This account has no passkey. Confirm with your password instead.",
  EMAIL_NOT_VERIFIED: "Confirm your email address first: we have mailed you a link.",
  SIGNED_IN_AS_ANOTHER_USER: "This sign-in link is for another account than the one signed in here.",
  REAUTHENTICATION_REQUIRED: "For your security, confirm it's you first.",
  SESSION_COOKIE_REQUIRES_GRPC_WEB: "This request was not sent the way a browser sends it. Reload the page.",
  ORIGIN_NOT_ALLOWED: "This page's address may not use your Keyward session. Open the page on its configured address.",
  OVERLOADED: "Too many sign-ins are in progress right now. Wait a moment and try again.",
  RATE_LIMITED: "Too many attempts. Wait a little and try again.",
  TOO_MANY_CEREMONIES: "Too many sign-in attempts are open right now. Wait a little and try again.",
  UNAVAILABLE: "The service is temporarily unavailable. Try again in a moment.",
  INTERNAL: "Something went wrong on the server. Try again later.",
  MALFORMED_MESSAGE: "The page sent a request the server could not read. Reload the page and try again.",
  MESSAGE_TOO_LARGE: "That is too much text for one request. Shorten it and try again.",
  // Passkeys
  PASSKEY_NOT_FOUND: "That passkey no longer exists. Reload the page.",
  PASSKEY_UNKNOWN: "This passkey is not registered here any more. Choose another passkey or sign in with your password.",
  PASSKEY_ALREADY_REGISTERED: "This passkey is already registered.",
  PASSKEY_LIMIT_REACHED: "This account has as many passkeys as it can have. Delete one first.",
  LAST_SIGN_IN_METHOD: "You can't remove your only way to sign in. Add another one (a passkey or a provider) first.",
  CEREMONY_NOT_FOUND: "The passkey request expired or was already used. Try again.",
  CHALLENGE_EXPIRED: "The passkey request took too long. Try again.",
  CEREMONY_NOT_YOURS: "This passkey request belongs to another session. Reload the page and try again.",
  PASSKEY_ORIGIN_MISMATCH: "This passkey was made for another web address than this one.",
  PASSKEY_RP_ID_MISMATCH: "This passkey belongs to another site.",
  PASSKEY_CHALLENGE_MISMATCH: "The passkey answered a different request. Try again.",
  PASSKEY_SIGNATURE_INVALID: "The passkey's signature could not be verified. Try again or use another sign-in method.",
  PASSKEY_USER_NOT_PRESENT: "Your authenticator did not confirm that you are there. Try again.",
  PASSKEY_USER_NOT_VERIFIED: "Your authenticator did not verify you (PIN, fingerprint or face). Try again.",
  PASSKEY_INVALID: "The passkey's answer is not valid. Try again or use another sign-in method.",
  PASSKEY_COUNTER_REGRESSED: "This passkey looks like it was copied to another device, so it was refused. Use another sign-in method.",
  // Sign-in with a provider
  OAUTH_STATE_INVALID: "This sign-in link is not valid or was already used. Start again.",
  OAUTH_STATE_EXPIRED: "This sign-in took too long. Start again.",
  OAUTH_ACCESS_DENIED: "The provider did not allow the sign-in.",
  OAUTH_PROVIDER_ERROR: "The provider refused the sign-in. Try again or use another method.",
  OAUTH_TOKEN_EXCHANGE_FAILED: "The provider did not accept the sign-in. Start again.",
  OAUTH_ID_TOKEN_INVALID: "The provider's answer could not be verified. Try again later.",
  OAUTH_PROVIDER_UNAVAILABLE: "The provider can't be reached right now. Try again later.",
  OAUTH_ACCOUNT_NOT_LINKED: "An account with this email already exists. Sign in the way you did before, then link the provider.",
  OAUTH_ACCOUNT_LINKED_TO_OTHER_USER: "This provider account is already linked to another user.",
  OAUTH_LINK_USER_MISMATCH: "Finish linking while signed in as the user who started it.",
  OAUTH_EMAIL_UNAVAILABLE: "The provider did not share a verified email address, which Keyward needs.",
  OAUTH_EMAIL_UNVERIFIED: "The provider has not verified your email address yet. Verify it there, then try again.",
  OAUTH_ISSUER_MISMATCH: "This answer did not come from the provider you chose, so it was refused. Start again.",
  OAUTH_PROVIDER_UNKNOWN: "That sign-in provider is not configured on this server. Reload the page.",
  OAUTH_REDIRECT_URI_NOT_ALLOWED:
    "This page's address is not among the server's oauth.redirect_uris, so providers can't send you back here.",
  LINKED_ACCOUNT_NOT_FOUND: "That linked account no longer exists. Reload the page.",
  USER_DISABLED: "This account is disabled. Contact the people who run this service.",
  // Operator-only reasons (AdminService): the sign-in page never calls it, but the map is total.
  API_KEY_REQUIRED: "This call needs an operator's API key.",
  API_KEY_INVALID: "The operator's API key is not valid.",
  API_KEY_SCOPE_MISSING: "The operator's API key may not do this.",
  USER_NOT_FOUND: "That user does not exist.",
  WEBHOOK_DELIVERY_NOT_FOUND: "That webhook delivery is not waiting to be retried.",
  WATCH_CURSOR_EXPIRED: "The event stream's cursor is too old: resync, then watch from now.",
  TOO_MANY_WATCH_STREAMS: "This API key has too many event streams open.",
  VERIFICATION_TOKEN_INVALID: "This link is not valid any more: it was used, replaced by a newer one, or mistyped. Ask for a new one.",
  VERIFICATION_TOKEN_EXPIRED: "This link has expired. Ask for a new one.",
  REDIRECT_URI_NOT_ALLOWED: "This page's address is not among the server's email.redirect_uris.",
  VERIFICATION_CODE_INVALID:
    "That code is not valid: it was mistyped, used, expired, or tried too often. Ask for a new mail.",
};

const CEREMONY_MESSAGES: Record<string, string> = {
  NotAllowedError: "The passkey request was cancelled or timed out.",
  InvalidStateError: "This device already has a passkey for this account.",
  NotSupportedError: "This browser can't use passkeys.",
  SecurityError: "Passkeys aren't allowed on this address. Open the page on its configured domain.",
  AbortError: "The passkey request was cancelled.",
};

/** The request field a failure is about, when it names one (a BadRequest violation). */
export function violatedField(error: unknown): string | undefined {
  return error instanceof KeywardError ? error.fieldViolations[0]?.field : undefined;
}

/** A sentence for the user about `error`. */
export function describeError(error: unknown): string {
  if (error instanceof PasskeyCeremonyError) {
    return CEREMONY_MESSAGES[error.kind] ?? `The passkey request failed: ${error.message}`;
  }
  if (error instanceof ProviderStateMismatchError) {
    return "This sign-in was not started from this page, so it was stopped. Start again with the provider's button.";
  }
  if (!(error instanceof KeywardError)) {
    return `Something went wrong: ${error instanceof Error ? error.message : String(error)}`;
  }
  if (error.reason === undefined) {
    switch (error.code) {
      case Code.Unavailable:
      case Code.Unknown:
        return "Can't reach Keyward. Check your connection and try again.";
      case Code.Unimplemented:
        return "This Keyward server doesn't offer that feature.";
      case Code.DeadlineExceeded:
        return "Keyward took too long to answer. Try again.";
      default:
        return `Keyward refused the request: ${error.rawMessage}`;
    }
  }
  const fixed = (REASON_MESSAGES as Record<string, string | null | undefined>)[error.reason];
  if (fixed) return fixed;
  const violation = error.fieldViolations[0];
  if (violation) {
    if (error.reason === "FIELD_REQUIRED") {
      return REQUIRED_MESSAGES[violation.field] ?? `Fill in the ${violation.field.replace(/_/g, " ")}.`;
    }
    return sentence(violation.description);
  }
  return `${error.rawMessage} (${error.reason})`;
}
