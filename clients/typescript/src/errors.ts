import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema } from "./gen/google/rpc/error_details_pb.js";
import type { ErrorReason } from "./gen/keyward/v1/error_reason_pb.js";

/** `google.rpc.ErrorInfo.domain` of every error Keyward sends. */
export const ERROR_DOMAIN = "keyward";

/**
 * Every `ErrorInfo.reason` this version of the client knows, from the published
 * `keyward.v1.ErrorReason` enum (proto/keyward/v1/error_reason.proto): the names are the wire
 * strings. `Record<ErrorReasonName, …>` makes the compiler list every reason you must handle.
 */
export type ErrorReasonName = Exclude<keyof typeof ErrorReason, "ERROR_REASON_UNSPECIFIED">;

/**
 * A reason as received: one of the known names, or a newer server's reason this client does not
 * know yet (treat it by `code`).
 */
export type Reason = ErrorReasonName | (string & {});

/** One refused request field, from the `google.rpc.BadRequest` detail. */
export interface FieldViolation {
  /** The proto field name, e.g. `password`. */
  field: string;
  /** Safe to show to the end user. */
  description: string;
}

/**
 * A failed Keyward call. `reason` is the `google.rpc.ErrorInfo` reason the server attached
 * (`INVALID_CREDENTIALS`, `EMAIL_TAKEN`, `PASSWORD_TOO_COMMON`, …): switch on it, not on the
 * message. It is `undefined` only when the failure never reached Keyward (network, CORS) or came
 * from something in front of it; `code` then says what the transport saw (`Unavailable`,
 * `Unknown`, `Unimplemented` for a service this server does not run).
 */
export class KeywardError extends ConnectError {
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
