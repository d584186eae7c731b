// The account flows from Client Components, through the mounted SessionProvider's client (the
// same-origin `/keyward` rewrite and the HttpOnly cookie): sign-up with a password or a passkey,
// mailed links and codes (password reset, magic link, email verification), and the user's
// passkeys. Whatever changes the session updates every tab, like `signIn` and `signOut`.
// Failures are KeywardErrors (`describeError(error)` says them to the user) or, for passkeys,
// PasskeyCeremonyErrors.

import { type MailedProof, proofFields } from "../mailed.js";
import { type PasskeyInfo, toPasskeyInfo } from "../passkey-info.js";
import { type RegisterPasskeyOptions, type RegisteredPasskey, type SignUpWithPasskeyOptions, registerPasskey, signUpWithPasskey } from "../passkeys.js";
import type { SessionData } from "../session.js";
import { changed, provider, signedIn } from "./active.js";

/** New accounts, signed in at once. */
export const signUp = {
  /** Email and password (`name` optional). `EMAIL_TAKEN` when the address has an account. */
  async password(input: { email: string; password: string; name?: string }): Promise<SessionData> {
    await provider().client.auth.register({ email: input.email, password: input.password, name: input.name ?? "" });
    return signedIn();
  },
  /** An account whose only sign-in method is a new passkey (see `signUpWithPasskey` for `code`). */
  async passkey(options: SignUpWithPasskeyOptions): Promise<SessionData> {
    await signUpWithPasskey(provider().client, options);
    return signedIn();
  },
};

/** Where a mailed link points instead of the sign-in page (listed in `email.redirect_uris`). */
export interface MailOptions {
  redirectUri?: string;
}

/**
 * Mails a reset link (and code) to `email`. Resolves the same way whether or not the address has
 * an account: say "if an account uses that address, a link is on its way".
 */
export async function requestPasswordReset(email: string, options: MailOptions = {}): Promise<void> {
  await provider().client.verification.requestPasswordReset({ email, redirectUri: options.redirectUri ?? "" });
}

/** Sets a new password with the reset link's token or the mail's code. Every session ends. */
export async function resetPassword(proof: MailedProof, newPassword: string): Promise<void> {
  await provider().client.verification.resetPassword({ ...proofFields(proof), newPassword });
  await changed();
}

/** Mails a sign-in link (and code) to `email`; finish with `signIn.magicLink`. Same answer for every address. */
export async function sendMagicLink(email: string, options: MailOptions = {}): Promise<void> {
  await provider().client.verification.sendMagicLink({ email, redirectUri: options.redirectUri ?? "" });
}

/** Mails the signed-in user a link (and code) that confirms their address. */
export async function sendVerificationEmail(options: MailOptions = {}): Promise<void> {
  await provider().client.verification.sendVerificationEmail({ redirectUri: options.redirectUri ?? "" });
}

/** Confirms the address with the link's token or the mail's code; `emailVerified` updates everywhere. */
export async function verifyEmail(proof: MailedProof): Promise<SessionData | null> {
  await provider().client.verification.verifyEmail(proofFields(proof));
  return changed();
}

/** The signed-in user's passkeys. */
export const passkeys = {
  /** Creates one on this device's authenticator (null: conditional create not available). */
  async add(options: RegisterPasskeyOptions = {}): Promise<RegisteredPasskey | null> {
    return registerPasskey(provider().client, options);
  },
  async list(): Promise<PasskeyInfo[]> {
    return (await provider().client.passkeys.listPasskeys({})).passkeys.map(toPasskeyInfo);
  },
  /**
   * Deletes one. A factor change: a stale session gets `REAUTHENTICATION_REQUIRED` (wrap it in
   * `withReauthentication`), and the last way to sign in cannot go (`LAST_SIGN_IN_METHOD`).
   */
  async delete(passkeyId: string): Promise<void> {
    await provider().client.passkeys.deletePasskey({ passkeyId });
  },
};
