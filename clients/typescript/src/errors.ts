import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema } from "./gen/google/rpc/error_details_pb.js";
import { ERROR_DOMAIN, type ErrorReasonName, type FieldViolation, type KeywardCallError, type Reason } from "./reasons.js";

export { ERROR_DOMAIN };
export type { ErrorReasonName, FieldViolation, KeywardCallError, Reason };

/**
 * A failed Keyward call. `reason` is the `google.rpc.ErrorInfo` reason the server attached
 * (`INVALID_CREDENTIALS`, `EMAIL_TAKEN`, `PASSWORD_TOO_COMMON`, …): switch on it, not on the
 * message. It is `undefined` only when the failure never reached Keyward (network, CORS) or came
 * from something in front of it; `code` then says what the transport saw (`Unavailable`,
 * `Unknown`, `Unimplemented` for a service this server does not run).
 */
export class KeywardError extends ConnectError implements KeywardCallError {
  // `name` stays "ConnectError": connect recognises its errors by name (a KeywardError thrown by
  // an interceptor must pass through ConnectError.from unchanged) and code that checks
  // `instanceof ConnectError` keeps working.
  readonly reason: Reason | undefined;
  readonly errorMetadata: Readonly<Record<string, string>>;
  readonly fieldViolations: readonly FieldViolation[];

  constructor(error: ConnectError) {
    super(error.rawMessage, error.code, error.metadata, undefined, error.cause ?? error);
    this.details = error.details;
    const info = error.findDetails(ErrorInfoSchema).find((detail) => detail.domain === ERROR_DOMAIN);
    this.reason = info?.reason;
    this.errorMetadata = { ...(info?.metadata ?? {}) };
    this.fieldViolations = error
      .findDetails(BadRequestSchema)
      .flatMap((bad) => bad.fieldViolations.map(({ field, description }) => ({ field, description })));
  }

  /** Plain prototype-chain instanceof (ConnectError's own check matches any ConnectError). */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return Function.prototype[Symbol.hasInstance].call(this, value);
  }

  /** Any thrown value as a KeywardError (a non-Connect error becomes `Code.Unknown`). */
  static override from(error: unknown): KeywardError {
    if (error instanceof KeywardError) return error;
    return new KeywardError(ConnectError.from(error));
  }
}

/** True when `error` is a KeywardError with one of `reasons`. */
export function hasReason(error: unknown, ...reasons: ErrorReasonName[]): error is KeywardError {
  return error instanceof KeywardError && error.reason !== undefined && (reasons as string[]).includes(error.reason);
}

/** True when the server does not run the service or method that was called. */
export function isUnimplemented(error: unknown): boolean {
  return error instanceof ConnectError && error.code === Code.Unimplemented;
}

/** A transport interceptor that rethrows every failure as a KeywardError, so callers can read `reason`. */
export const keywardErrors: Interceptor = (next) => async (request) => {
  try {
    return await next(request);
  } catch (error) {
    throw KeywardError.from(error);
  }
};
