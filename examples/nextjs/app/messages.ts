// What the pages say for a failed call. The keys are Keyward's published reasons
// (@keyward/client's ErrorReasonName): a misspelt one fails `tsc`.
import { type ErrorReasonName, KeywardError, PasskeyCeremonyError } from "@keyward/client";

const MESSAGES: Partial<Record<ErrorReasonName, string>> = {
  INVALID_CREDENTIALS: "That email and password don't match an account.",
  INVALID_EMAIL: "Enter a valid email address, like name@example.com.",
  FIELD_REQUIRED: "Fill in your email and password.",
  OVERLOADED: "Too many sign-ins right now. Try again in a moment.",
  PASSKEY_UNKNOWN: "This passkey is not registered here any more. Use another one or your password.",
  NOT_SIGNED_IN: "You are signed out. Sign in again.",
  SESSION_INVALID: "Your session has ended. Sign in again.",
};

export function describeError(error: unknown): string {
  if (error instanceof PasskeyCeremonyError) {
    return error.kind === "NotAllowedError" ? "The passkey request was cancelled." : "Passkeys aren't available here.";
  }
  if (error instanceof KeywardError) {
    const fixed = error.reason ? MESSAGES[error.reason as ErrorReasonName] : undefined;
    return fixed ?? error.fieldViolations[0]?.description ?? "Something went wrong. Try again.";
  }
  return "Something went wrong. Try again.";
}
