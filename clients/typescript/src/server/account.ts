// The account flows from a server action or route handler, beside `signIn` / `signUp`: mailed
// links and codes (password reset, magic link, email verification) and the user's passkeys (list
// and delete; adding one needs the browser's authenticator: `passkeys.add()` from
// @keyward/client/react). Calls on the user's behalf carry the session cookie's token as a bearer
// token; the anonymous ones carry nothing.

import { type MailedProof, proofFields } from "../mailed.js";
import { type PasskeyInfo, toPasskeyInfo } from "../passkey-info.js";
import { passkeyClient, verificationClient } from "./client.js";
import { type IncomingHeaders, type ServerOptions, callHeaders, sessionToken } from "./options.js";

/** Options of a call made for the signed-in user behind `headers`. */
export interface OnBehalfOptions extends ServerOptions {
  /** The incoming request's headers (`await headers()`, `request.headers`). */
  headers: IncomingHeaders;
}

/** Where a mailed link points instead of the sign-in page (listed in `email.redirect_uris`). */
export interface MailOptions extends ServerOptions {
  redirectUri?: string;
}

function onBehalf(options: OnBehalfOptions) {
  return { headers: callHeaders(sessionToken(options.headers, options), options.headers) };
}

/**
 * Mails a password-reset link (and code) to `email`. Resolves the same way whether or not the
 * address has an account: say "if an account uses that address, a link is on its way".
 */
export async function requestPasswordReset(input: { email: string } & MailOptions): Promise<void> {
  await verificationClient(input).requestPasswordReset({ email: input.email, redirectUri: input.redirectUri ?? "" });
}

/** Sets a new password with a reset link's token or the mail's code; every session ends. */
export async function resetPassword(input: MailedProof & { newPassword: string } & ServerOptions): Promise<void> {
  await verificationClient(input).resetPassword({ ...proofFields(input), newPassword: input.newPassword });
}

/** Mails a sign-in link (and code) to `email`; finish with `signIn.magicLink`. Same answer for every address. */
export async function sendMagicLink(input: { email: string } & MailOptions): Promise<void> {
  await verificationClient(input).sendMagicLink({ email: input.email, redirectUri: input.redirectUri ?? "" });
}

/** Mails the signed-in user a link (and code) that confirms their address. */
export async function sendVerificationEmail(input: OnBehalfOptions & Pick<MailOptions, "redirectUri">): Promise<void> {
  await verificationClient(input).sendVerificationEmail({ redirectUri: input.redirectUri ?? "" }, onBehalf(input));
}

/** Confirms an address with the link's token or the mail's code. Resolves to the address confirmed. */
export async function verifyEmail(input: MailedProof & ServerOptions): Promise<{ email: string }> {
  const { user } = await verificationClient(input).verifyEmail(proofFields(input));
  return { email: user?.email ?? "" };
}

/** The signed-in user's passkeys. */
export const passkeys = {
  async list(options: OnBehalfOptions): Promise<PasskeyInfo[]> {
    return (await passkeyClient(options).listPasskeys({}, onBehalf(options))).passkeys.map(toPasskeyInfo);
  },
  /**
   * Deletes one. A factor change: a session older than `reauthentication_window_secs` gets
   * `REAUTHENTICATION_REQUIRED` (confirm it's the user in the browser first), and the last way to
   * sign in cannot go (`LAST_SIGN_IN_METHOD`).
   */
  async delete(input: { passkeyId: string } & OnBehalfOptions): Promise<void> {
    await passkeyClient(input).deletePasskey({ passkeyId: input.passkeyId }, onBehalf(input));
  },
};
