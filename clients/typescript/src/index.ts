// @keyward/client: the grpc-web client, passkey helpers and typed errors, for browsers and Node.
// Server-side helpers are in @keyward/client/server, React session hooks in @keyward/client/react.
export { createKeywardClient } from "./client.js";
export type { KeywardClient, KeywardClientOptions } from "./client.js";
export { SESSION_COOKIE_NAME } from "./cookie.js";
export { ERROR_DOMAIN, KeywardError, hasReason, isUnimplemented, keywardErrors } from "./errors.js";
export type { ErrorReasonName, FieldViolation, KeywardCallError, Reason } from "./errors.js";
export { RETRIED_METHODS, retryUnavailable } from "./retries.js";
export { toSessionData } from "./session.js";
export { hasRole } from "./roles.js";
export type { HasRoles } from "./roles.js";
export { REASON_MESSAGES, describeError, violatedField } from "./messages.js";
export type { SessionData, SessionInfo, SessionUser } from "./session.js";
export {
  PasskeyCeremonyError,
  UNKNOWN_CREDENTIAL_REASONS,
  reauthenticateWithPasskey,
  conditionalCreateAvailable,
  conditionalGetAvailable,
  registerPasskey,
  signInWithPasskey,
  signUpWithPasskey,
  signalAllAcceptedCredentials,
  signalCurrentUserDetails,
  signalSupport,
  signalUnknownCredential,
} from "./passkeys.js";
export type {
  PasskeySignedIn,
  RegisterPasskeyOptions,
  RegisteredPasskey,
  SignInWithPasskeyOptions,
  SignUpWithPasskeyOptions,
  WebAuthnUser,
} from "./passkeys.js";
export { updateUserName } from "./profile.js";
export { REAUTHENTICATION_REQUIRED, reauthenticate, withReauthentication } from "./reauthentication.js";
export type { Reauthentication, ReauthenticationPrompt } from "./reauthentication.js";
export type { UpdatedUser } from "./profile.js";
export {
  ProviderStateMismatchError,
  finishProviderSignIn,
  listProviders,
  providerCallbackParams,
  startProviderSignIn,
} from "./providers.js";
export type { StartProviderSignInOptions } from "./providers.js";
export { base64urlToBytes, bytesToBase64url, credentialToJSON, webauthnAvailable } from "./webauthn.js";
export * from "./gen/keyward/v1/auth_pb.js";
export * from "./gen/keyward/v1/error_reason_pb.js";
export * from "./gen/keyward/v1/oauth_pb.js";
export * from "./gen/keyward/v1/passkey_pb.js";
export * from "./gen/keyward/v1/resources_pb.js";
