// Mailed links on the sign-in page: "Forgot password?" and "Email me a sign-in link" ask
// VerificationService to mail one, and a link that comes back (`?flow=…&token=…`) is finished
// here: the reset form, a magic-link sign-in, an email verification. Same grpc-web client as the
// rest of the page.

import type { KeywardClient } from "../src/index.js";

/** What a mailed link that opened this page asks for, if anything. */
export interface MailedLink {
  flow: "reset-password" | "magic-link" | "verify-email";
  token: string;
}

const FLOWS = new Set(["reset-password", "magic-link", "verify-email"]);

/** The link in `url`, if it is one; the token is never kept in the address bar or history. */
export function takeMailedLink(url: URL): MailedLink | undefined {
  const flow = url.searchParams.get("flow");
  const token = url.searchParams.get("token");
  if (!flow || !token || !FLOWS.has(flow)) return undefined;
  url.searchParams.delete("flow");
  url.searchParams.delete("token");
  history.replaceState(null, "", url.pathname + url.search);
  return { flow: flow as MailedLink["flow"], token };
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

export async function resetPassword(client: KeywardClient, token: string, newPassword: string): Promise<string> {
  await client.verification.resetPassword({ token, newPassword });
  return "Your password was changed and every session signed out. Sign in with the new password.";
}
