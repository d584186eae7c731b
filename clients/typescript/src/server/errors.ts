// Error checks for server code, typed with the plain KeywardCallError so that the server entry's
// declarations never name Connect's types (they need the DOM's HeadersInit, which a server-only
// project does not have). The values are @keyward/client's own.

import { KeywardError, hasReason as hasReasonOf } from "../errors.js";
import type { ErrorReasonName, KeywardCallError } from "../reasons.js";

/** True when `error` is a failed Keyward call with one of `reasons`. */
export const hasReason: (error: unknown, ...reasons: ErrorReasonName[]) => error is KeywardCallError = hasReasonOf;

/** True when `error` is a failed Keyward call (a KeywardError). */
export function isKeywardError(error: unknown): error is KeywardCallError {
  return error instanceof KeywardError;
}
