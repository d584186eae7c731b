// Mailed links and codes on the sign-in page: "Forgot password?", "Email me a sign-in link",
// "Resend verification email" and "Change email" ask VerificationService to mail a link (which
// also shows a six-digit code), and a link that comes back (`?flow=…&token=…`) or a code typed
// in is finished here. Same grpc-web client as the rest of the page.

import type { KeywardClient, User } from "../src/index.js";
import { type MailedProof, proofFields } from "../src/mailed.js";

/** What a mailed link or code is for: the `flow` of a link, or the request a code came with. */
export type MailedFlow = "reset-password" | "magic-link" | "verify-email" | "change-email";

/** What a mailed link that opened this page asks for, if anything. */
export interface MailedLink {
  flow: MailedFlow;
  token: string;
}

export type { MailedProof } from "../src/mailed.js";

const FLOWS = new Set<string>(["reset-password", "magic-link", "verify-email", "change-email"]);

/** The link in `url`, if it is one; the token is never kept in the address bar or history. */
export function takeMailedLink(url: URL): MailedLink | undefined {
  const flow = url.searchParams.get("flow");
  const token = url.searchParams.get("token");
  if (!flow || !token || !FLOWS.has(flow)) return undefined;
  url.searchParams.delete("flow");
  url.searchParams.delete("token");
  history.replaceState(null, "", url.pathname + url.search);
  return { flow: flow as MailedFlow, token };
}

/** The same answer for every address: whether it has an account is not the page's to say. */
export const LINK_SENT = "If an account uses that address, a link is on its way. Check your mail.";

export async function requestPasswordReset(client: KeywardClient, email: string): Promise<string> {
  await client.verification.requestPasswordReset({ email });
  return LINK_SENT;
}

export async function sendMagicLink(client: KeywardClient, email: string): Promise<string> {
  await client.verification.sendMagicLink({ email });
  return LINK_SENT;
}


export async function resetPassword(
  client: KeywardClient,
  proof: MailedProof,
  newPassword: string,
  removeOtherFactors = false,
): Promise<string> {
  await client.verification.resetPassword({ ...proofFields(proof), newPassword, removeOtherFactors });
  return removeOtherFactors
    ? "Your password was changed, every session signed out, and every passkey and linked provider removed. Sign in with the new password."
    : "Your password was changed and every session signed out. Sign in with the new password.";
}

export async function signInWithMagicLink(client: KeywardClient, proof: MailedProof): Promise<string> {
  const signedIn = (await client.verification.signInWithMagicLink(proofFields(proof))).signedIn;
  return `Signed in as ${signedIn?.user?.email ?? "you"}.`;
}

export async function verifyEmail(client: KeywardClient, proof: MailedProof): Promise<string> {
  const user = (await client.verification.verifyEmail(proofFields(proof))).user;
  return `${user?.email ?? "Your address"} is confirmed.`;
}

export async function confirmEmailChange(client: KeywardClient, proof: MailedProof): Promise<string> {
  const user: User | undefined = (await client.verification.confirmEmailChange(proofFields(proof))).user;
  return `Your account now uses ${user?.email ?? "the new address"}, confirmed.`;
}
