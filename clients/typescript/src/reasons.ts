// Error reasons and field violations as plain types: no transport types, so the server entry's
// declarations can name them without pulling in Connect's (which need the DOM's HeadersInit).

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
 * What a failed Keyward call carries, without the transport's types. At run time it is a
 * KeywardError (from `@keyward/client`, a ConnectError).
 */
export interface KeywardCallError extends Error {
  /** The gRPC status code (`Code` in @connectrpc/connect: 3 InvalidArgument, 14 Unavailable, …). */
  readonly code: number;
  /** The ErrorInfo reason; undefined when the failure never reached Keyward (network). */
  readonly reason: Reason | undefined;
  readonly errorMetadata: Readonly<Record<string, string>>;
  readonly fieldViolations: readonly FieldViolation[];
  /** The server's message without the code prefix: for logs, not for users. */
  readonly rawMessage: string;
}
