// What proves a mailed link or code was read, as the finish RPCs (ResetPassword, VerifyEmail,
// SignInWithMagicLink, ConfirmEmailChange) take it: the link's `token`, or the address the mail
// went to and the six-digit `code` it shows. Shared by the page, the React and the server helpers.

/** A mailed link's token, or the address and the code from the mail. */
export type MailedProof = { token: string } | { email: string; code: string };

/** The proof as the finish requests' fields. */
export function proofFields(proof: MailedProof): { token: string; email: string; code: string } {
  return "token" in proof ? { token: proof.token, email: "", code: "" } : { token: "", email: proof.email, code: proof.code };
}
