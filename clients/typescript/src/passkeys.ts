// Passkey ceremonies over Keyward's PasskeyService: Start → navigator.credentials → Finish, plus
// the WebAuthn Signal API and conditional create, each used only where the browser has it.

import type { KeywardClient } from "./client.js";
import { KeywardError, hasReason } from "./errors.js";
import type { Passkey } from "./gen/keyward/v1/passkey_pb.js";
import type { SignedIn } from "./gen/keyward/v1/resources_pb.js";
import {
  type CreationOptionsJSON,
  type RequestOptionsJSON,
  bytesToBase64url,
  credentialToJSON,
  parseOptionsJson,
  publicKeyCredential,
  toCreationOptions,
  toRequestOptions,
  webauthnAvailable,
} from "./webauthn.js";

/**
 * Reasons with which Keyward refuses an assertion whose credential it does not know (deleted on
 * the server, or never registered here): the cue for `signalUnknownCredential`.
 */
export const UNKNOWN_CREDENTIAL_REASONS = ["PASSKEY_UNKNOWN"] as const;

/** The browser refused or could not run the ceremony (not a Keyward error). */
export class PasskeyCeremonyError extends Error {
  override name = "PasskeyCeremonyError";
  /** The DOMException name: `NotAllowedError` (cancelled or timed out), `InvalidStateError`
   * (this authenticator already holds a passkey for the account), `AbortError`, `NotSupportedError`. */
  readonly kind: string;
  constructor(kind: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
  }
}

/** What a ceremony learned about the WebAuthn user it ran for. */
export interface WebAuthnUser {
  /** The RP ID the credential is scoped to. */
  rpId: string;
  /** The WebAuthn user handle (base64url), which the Signal API names users by. */
  userId: string;
}

export interface RegisterPasskeyOptions {
  /** Display name of the new passkey; the server picks one when empty. */
  name?: string;
  /**
   * `conditional`: conditional create (WebAuthn L3) — the browser may silently add a passkey for
   * the account that just signed in with a password, or never answer. Use it only right after a
   * password sign-in; `registerPasskey` returns `null` when the browser lacks it.
   */
  mediation?: "conditional";
  signal?: AbortSignal;
}

export interface RegisteredPasskey extends WebAuthnUser {
  passkey: Passkey;
}

async function create(options: PublicKeyCredentialCreationOptions, mediation: "conditional" | undefined, signal?: AbortSignal) {
  try {
    const request = { publicKey: options, ...(mediation ? { mediation } : {}), ...(signal ? { signal } : {}) };
    const credential = await navigator.credentials.create(request as CredentialCreationOptions);
    if (!(credential instanceof PublicKeyCredential)) throw new PasskeyCeremonyError("NotAllowedError", "no credential was created");
    return credential;
  } catch (error) {
    throw ceremonyError(error);
  }
}

function ceremonyError(error: unknown): Error {
  if (error instanceof PasskeyCeremonyError || error instanceof KeywardError) return error;
  if (error instanceof DOMException || (error instanceof Error && error.name.endsWith("Error"))) {
    const err = error as Error;
    return new PasskeyCeremonyError(err.name, err.message, { cause: err });
  }
  return new PasskeyCeremonyError("UnknownError", String(error), { cause: error });
}

function requireWebAuthn() {
  if (!webauthnAvailable()) throw new PasskeyCeremonyError("NotSupportedError", "this browser has no WebAuthn");
}

/** Whether the browser offers conditional create (`getClientCapabilities().conditionalCreate`). */
export async function conditionalCreateAvailable(): Promise<boolean> {
  const capabilities = await publicKeyCredential()?.getClientCapabilities?.().catch(() => undefined);
  return capabilities?.["conditionalCreate"] === true;
}

/** Whether passkey autofill (conditional mediation on get) is available. */
export async function conditionalGetAvailable(): Promise<boolean> {
  return (await publicKeyCredential()?.isConditionalMediationAvailable?.().catch(() => false)) === true;
}

/**
 * Adds a passkey to the signed-in caller's account. Returns `null` only for
 * `mediation: "conditional"` on a browser without conditional create.
 */
export async function registerPasskey(client: KeywardClient, options: RegisterPasskeyOptions = {}): Promise<RegisteredPasskey | null> {
  requireWebAuthn();
  if (options.mediation === "conditional" && !(await conditionalCreateAvailable())) return null;
  const start = await client.passkeys.startPasskeyRegistration({});
  const json = parseOptionsJson<CreationOptionsJSON>(start.optionsJson);
  const credential = await create(toCreationOptions(json), options.mediation, options.signal);
  const finish = await client.passkeys.finishPasskeyRegistration({
    ceremonyId: start.ceremonyId,
    credentialJson: JSON.stringify(credentialToJSON(credential)),
    name: options.name ?? "",
  });
  if (!finish.passkey) throw new Error("FinishPasskeyRegistration answered without a passkey");
  return { passkey: finish.passkey, rpId: json.rp.id ?? location.hostname, userId: json.user.id };
}

export interface SignUpWithPasskeyOptions {
  email: string;
  /** Display name of the new user. */
  name?: string;
  /** Display name of the passkey. */
  passkeyName?: string;
  /**
   * For a server with `require_email_verification` on, where StartPasskeySignUp mails the
   * address a six-digit code and FinishPasskeySignUp needs it: called once the mail is on its
   * way, before the authenticator creates anything, to ask the user for that code. Reject to
   * give up (the ceremony then expires unused).
   */
  code?: () => Promise<string>;
  signal?: AbortSignal;
}

export interface PasskeySignedIn extends WebAuthnUser {
  signedIn: SignedIn;
}

/**
 * Creates an account whose only sign-in method is a new passkey, and signs in. With `code`, the
 * code is asked for before the passkey is created, so a user who never gets the mail leaves no
 * orphan passkey on their authenticator.
 */
export async function signUpWithPasskey(
  client: KeywardClient,
  options: SignUpWithPasskeyOptions,
): Promise<PasskeySignedIn & { passkey: Passkey }> {
  requireWebAuthn();
  const start = await client.passkeys.startPasskeySignUp({ email: options.email, name: options.name ?? "" });
  const json = parseOptionsJson<CreationOptionsJSON>(start.optionsJson);
  const code = options.code ? (await options.code()).trim() : "";
  const credential = await create(toCreationOptions(json), undefined, options.signal);
  const finish = await client.passkeys.finishPasskeySignUp({
    ceremonyId: start.ceremonyId,
    credentialJson: JSON.stringify(credentialToJSON(credential)),
    passkeyName: options.passkeyName ?? "",
    code,
  });
  if (!finish.signedIn || !finish.passkey) throw new Error("FinishPasskeySignUp answered without a session");
  return { signedIn: finish.signedIn, passkey: finish.passkey, rpId: json.rp.id ?? location.hostname, userId: json.user.id };
}

export interface SignInWithPasskeyOptions {
  /**
   * Conditional mediation (passkey autofill): the request waits until the user picks a passkey
   * from the autofill of an `autocomplete="username webauthn"` field. Returns `null` when the
   * browser has no conditional mediation. Abort it (`signal`) before starting another ceremony.
   */
  conditional?: boolean;
  /** Narrow the request to this account's passkeys (not with `conditional`). */
  email?: string;
  signal?: AbortSignal;
}

/**
 * Signs in with a passkey. When the server no longer knows the credential the user picked, tells
 * the authenticator (`PublicKeyCredential.signalUnknownCredential`, where available) so it stops
 * offering it, then throws the KeywardError.
 */
export async function signInWithPasskey(
  client: KeywardClient,
  options: SignInWithPasskeyOptions = {},
): Promise<PasskeySignedIn | null> {
  requireWebAuthn();
  if (options.conditional && !(await conditionalGetAvailable())) return null;
  const start = await client.passkeys.startPasskeyLogin({ email: options.conditional ? "" : (options.email ?? "") });
  const json = parseOptionsJson<RequestOptionsJSON>(start.optionsJson);
  let credential: Credential | null;
  try {
    const request = {
      publicKey: toRequestOptions(json),
      ...(options.conditional ? { mediation: "conditional" } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    };
    credential = await navigator.credentials.get(request as CredentialRequestOptions);
  } catch (error) {
    throw ceremonyError(error);
  }
  if (!(credential instanceof PublicKeyCredential)) throw new PasskeyCeremonyError("NotAllowedError", "no passkey was chosen");
  const rpId = json.rpId ?? location.hostname;
  const userHandle = (credential.response as AuthenticatorAssertionResponse).userHandle;
  try {
    const finish = await client.passkeys.finishPasskeyLogin({
      ceremonyId: start.ceremonyId,
      credentialJson: JSON.stringify(credentialToJSON(credential)),
    });
    if (!finish.signedIn) throw new Error("FinishPasskeyLogin answered without a session");
    return { signedIn: finish.signedIn, rpId, userId: userHandle ? bytesToBase64url(userHandle) : "" };
  } catch (error) {
    if (hasReason(error, ...UNKNOWN_CREDENTIAL_REASONS)) {
      await signalUnknownCredential({ rpId, credentialId: credential.id });
    }
    throw error;
  }
}

/**
 * Re-authenticates the caller's current session with one of their passkeys
 * (Start/FinishPasskeyReauthentication): no new session, the current one counts as freshly
 * authenticated. Used by `reauthenticate`.
 */
export async function reauthenticateWithPasskey(client: KeywardClient, signal?: AbortSignal): Promise<void> {
  requireWebAuthn();
  const start = await client.passkeys.startPasskeyReauthentication({});
  const json = parseOptionsJson<RequestOptionsJSON>(start.optionsJson);
  let credential: Credential | null;
  try {
    const request = { publicKey: toRequestOptions(json), ...(signal ? { signal } : {}) };
    credential = await navigator.credentials.get(request as CredentialRequestOptions);
  } catch (error) {
    throw ceremonyError(error);
  }
  if (!(credential instanceof PublicKeyCredential)) throw new PasskeyCeremonyError("NotAllowedError", "no passkey was chosen");
  await client.passkeys.finishPasskeyReauthentication({
    ceremonyId: start.ceremonyId,
    credentialJson: JSON.stringify(credentialToJSON(credential)),
  });
}

/** Which Signal API calls the browser has. */
export function signalSupport() {
  const pkc = publicKeyCredential();
  return {
    unknownCredential: typeof pkc?.signalUnknownCredential === "function",
    allAcceptedCredentials: typeof pkc?.signalAllAcceptedCredentials === "function",
    currentUserDetails: typeof pkc?.signalCurrentUserDetails === "function",
  };
}

/** Signal API calls are hints to the authenticator: they never fail the caller's flow. */
async function signal(call: (() => Promise<void>) | undefined): Promise<boolean> {
  if (!call) return false;
  try {
    await call();
    return true;
  } catch {
    return false;
  }
}

/** Tells the authenticator the server does not know this credential. True when signalled. */
export function signalUnknownCredential(options: { rpId: string; credentialId: string }): Promise<boolean> {
  const pkc = publicKeyCredential();
  return signal(pkc?.signalUnknownCredential && (() => pkc.signalUnknownCredential!(options)));
}

/**
 * After listing the user's passkeys: tells the authenticator which of its credentials for this
 * user are still valid, so it can hide deleted ones. True when signalled.
 */
export function signalAllAcceptedCredentials(user: WebAuthnUser, passkeys: readonly Passkey[]): Promise<boolean> {
  const pkc = publicKeyCredential();
  const options = { ...user, allAcceptedCredentialIds: passkeys.map((passkey) => passkey.credentialId) };
  return signal(pkc?.signalAllAcceptedCredentials && (() => pkc.signalAllAcceptedCredentials!(options)));
}

/** After the user's name or email changed: updates what the authenticator shows. */
export function signalCurrentUserDetails(user: WebAuthnUser, details: { name: string; displayName: string }): Promise<boolean> {
  const pkc = publicKeyCredential();
  return signal(pkc?.signalCurrentUserDetails && (() => pkc.signalCurrentUserDetails!({ ...user, ...details })));
}
