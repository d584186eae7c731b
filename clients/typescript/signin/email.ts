// The page's email parts: "Forgot password?" and "Email me a sign-in link" (signed out), the
// banner for an unconfirmed address with "Resend verification email" and the change-email form
// (signed in), the reset form a mailed link opens, and the code field: every mail also shows a
// six-digit code, which finishes the same flow as its link (NIST SP 800-63B-4 §3.1.6; the
// server counts and throttles the tries). Passkey-only sign-up under
// `require_email_verification` asks for its mailed code here too.

import { type KeywardClient, KeywardError, type User, withReauthentication } from "../src/index.js";
import {
  type MailedFlow,
  type MailedLink,
  type MailedProof,
  confirmEmailChange,
  requestPasswordReset,
  resetPassword,
  sendMagicLink,
  signInWithMagicLink,
  verifyEmail,
} from "./links.js";
import { promptForReauthentication } from "./reauth.js";
import { $, busy, clearFieldErrors, fail, field, say, showFieldError } from "./ui.js";

/** What the email parts need from the rest of the page. */
export interface EmailPage {
  client: KeywardClient;
  /** Reloads the session and shows the page for it. */
  refresh(): Promise<void>;
  /** After a sign-in: back to the app when it asked for that; true when leaving. */
  leaveIfReturning(): boolean;
  /** The signed-in user, if any. */
  user(): User | undefined;
}

/** What a code typed into the code field finishes. */
type CodeFlow = MailedFlow | "sign-up";

const CODE_TEXTS: Record<CodeFlow, { heading: string; submit: string }> = {
  "reset-password": { heading: "Reset your password with the code", submit: "Set password" },
  "magic-link": { heading: "Sign in with the code", submit: "Sign in" },
  "verify-email": { heading: "Confirm your address with the code", submit: "Confirm address" },
  "change-email": { heading: "Confirm the new address with the code", submit: "Use this address" },
  "sign-up": { heading: "Finish creating your account", submit: "Finish sign-up" },
};

/** The code field's flow and the address the mail went to, while it is shown. */
let pending: { flow: CodeFlow; email: string } | undefined;
/** A passkey sign-up waiting for its code. */
let signUp: { resolve(code: string): void; reject(error: unknown): void } | undefined;

function cancelled() {
  return new DOMException("no code was entered", "AbortError");
}

/**
 * Shows the code field for `flow`, for the mail that went to `email` (with a new-password field
 * for a reset). Returns the field, for the caller to focus.
 */
function askForCode(flow: CodeFlow, email: string): HTMLInputElement {
  signUp?.reject(cancelled());
  signUp = undefined;
  pending = { flow, email };
  const form = $<HTMLFormElement>("code-form");
  form.reset();
  clearFieldErrors(form);
  $("code-heading").textContent = CODE_TEXTS[flow].heading;
  $("code-sent-to").textContent =
    flow === "sign-up"
      ? `Enter the 6-digit code mailed to ${email}.`
      : `The mail to ${email} also shows a 6-digit code: enter it here instead of following the link.`;
  $("code-submit").textContent = CODE_TEXTS[flow].submit;
  $("code-new-password").hidden = flow !== "reset-password";
  $("code-entry").hidden = false;
  return $<HTMLInputElement>("code-input");
}

function closeCodeEntry() {
  pending = undefined;
  $<HTMLFormElement>("code-form").reset();
  $("code-entry").hidden = true;
}

/**
 * For `signUpWithPasskey`'s `code`: shows the code field and resolves with what the user types.
 * StartPasskeySignUp mailed the address either a code or, when it has an account, a note saying
 * so: the page says the same either way (no existence oracle).
 */
export function signUpCode(email: string): Promise<string> {
  const input = askForCode("sign-up", email);
  say(`A code is on its way to ${email}. Enter it to finish (if that address already has an account, the mail says so instead).`);
  input.focus();
  return new Promise((resolve, reject) => {
    signUp = { resolve, reject };
  });
}

/** Finishes `flow` with `proof` (a link's token or a typed code); says how it went. */
async function finish(page: EmailPage, flow: MailedFlow, proof: MailedProof, newPassword = "", removeOthers = false) {
  const { client } = page;
  switch (flow) {
    case "reset-password": {
      const done = await resetPassword(client, proof, newPassword, removeOthers);
      await page.refresh();
      say(done);
      return;
    }
    case "magic-link": {
      let done: string;
      try {
        done = await signInWithMagicLink(client, proof);
      } catch (error) {
        // Another account is signed in here (login CSRF guard): nothing was used up; ask first.
        if (error instanceof KeywardError && error.reason === "SIGNED_IN_AS_ANOTHER_USER") {
          await confirmSwitch(page, error.errorMetadata["email"] ?? "another account", proof);
          return;
        }
        throw error;
      }
      await page.refresh();
      if (!page.leaveIfReturning()) say(done);
      return;
    }
    case "verify-email": {
      const done = await verifyEmail(client, proof);
      await page.refresh();
      say(done);
      return;
    }
    case "change-email": {
      const done = await confirmEmailChange(client, proof);
      await page.refresh();
      say(done);
      return;
    }
  }
}

/** The sign-in waiting for "Continue as …?" while another account is signed in. */
let pendingSwitch: MailedProof | undefined;

/**
 * A magic link (or its code) for `linkEmail` while another account is signed in: the page does
 * not finish it at load — an attacker's link for their own account would otherwise sign this
 * browser into it. It asks; "Continue" signs out and sends the same link again.
 */
async function confirmSwitch(page: EmailPage, linkEmail: string, proof: MailedProof) {
  await page.refresh();
  pendingSwitch = proof;
  $("code-entry").hidden = true;
  $("switch-to").textContent = linkEmail;
  $("switch-from").textContent = page.user()?.email ?? "another account";
  $("switch-account").hidden = false;
  say(`This sign-in link is for ${linkEmail}.`);
  $("switch-stay").focus();
}

/** The token of a reset link this page was opened with, until the new password is set. */
let pendingReset: string | undefined;

/** Opened from a mailed link: show the reset form, or finish the flow at once. */
export async function finishMailedLink(page: EmailPage, link: MailedLink | undefined) {
  if (!link) return;
  if (link.flow === "reset-password") {
    pendingReset = link.token;
    $("reset").hidden = false;
    $("reset-password").focus();
    return;
  }
  try {
    await finish(page, link.flow, { token: link.token });
  } catch (error) {
    fail(error);
  }
}

/** The banner for an address not confirmed yet (none for a confirmed one). */
export function showVerification(user: User) {
  $("verify-banner").hidden = !!user.emailVerifyTime;
  $("verify-address").textContent = user.email;
}

export function bindEmail(page: EmailPage) {
  const { client } = page;
  const stay = $<HTMLButtonElement>("switch-stay");
  stay.addEventListener("click", () => {
    pendingSwitch = undefined;
    $("switch-account").hidden = true;
    say(`Nothing changed: you are still signed in as ${page.user()?.email ?? "before"}.`);
  });
  const proceed = $<HTMLButtonElement>("switch-continue");
  proceed.addEventListener("click", () =>
    busy(proceed, async () => {
      const proof = pendingSwitch;
      if (!proof) return;
      pendingSwitch = undefined;
      $("switch-account").hidden = true;
      await client.auth.logout({});
      await finish(page, "magic-link", proof);
    }),
  );
  const signinForm = $<HTMLFormElement>("signin-form");
  const forgot = $<HTMLButtonElement>("forgot-password");
  forgot.addEventListener("click", () =>
    busy(forgot, async () => {
      const email = field(signinForm, "email");
      say(await requestPasswordReset(client, email));
      return askForCode("reset-password", email);
    }),
  );
  const magic = $<HTMLButtonElement>("magic-link");
  magic.addEventListener("click", () =>
    busy(magic, async () => {
      const email = field(signinForm, "email");
      say(await sendMagicLink(client, email));
      return askForCode("magic-link", email);
    }),
  );

  const resetForm = $<HTMLFormElement>("reset-form");
  resetForm.addEventListener("submit", (event) => {
    event.preventDefault();
    void busy(resetForm.querySelector("button[type=submit]"), async () => {
      if (!pendingReset) return;
      const token = pendingReset;
      const removeOthers = $<HTMLInputElement>("reset-remove-factors").checked;
      await finish(page, "reset-password", { token }, field(resetForm, "new_password"), removeOthers);
      pendingReset = undefined;
      resetForm.reset();
      $("reset").hidden = true;
    });
  });

  const codeForm = $<HTMLFormElement>("code-form");
  const codeInput = $<HTMLInputElement>("code-input");
  codeForm.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!pending) return;
    const { flow, email } = pending;
    const code = codeInput.value.trim();
    if (flow === "sign-up") {
      // The ceremony allows one try, and the authenticator runs before it: check the form here.
      clearFieldErrors(codeForm);
      if (!/^[0-9]{6}$/.test(code)) {
        showFieldError(codeInput, "Enter the 6-digit code from the mail.");
        return;
      }
      const waiting = signUp;
      signUp = undefined;
      closeCodeEntry();
      waiting?.resolve(code);
      return;
    }
    void busy($<HTMLButtonElement>("code-submit"), async () => {
      const removeOthers = $<HTMLInputElement>("code-remove-factors").checked;
      await finish(page, flow, { email, code }, field(codeForm, "new_password"), removeOthers);
      closeCodeEntry();
    });
  });
  const codeCancel = $<HTMLButtonElement>("code-cancel");
  codeCancel.addEventListener("click", () => {
    signUp?.reject(cancelled());
    signUp = undefined;
    closeCodeEntry();
    say("");
  });

  const resend = $<HTMLButtonElement>("resend-verification");
  resend.addEventListener("click", () =>
    busy(resend, async () => {
      const email = page.user()?.email;
      if (!email) return;
      await client.verification.sendVerificationEmail({});
      say(`A confirmation link is on its way to ${email}. Check your mail.`);
      return askForCode("verify-email", email);
    }),
  );

  const emailForm = $<HTMLFormElement>("email-form");
  emailForm.addEventListener("submit", (event) => {
    event.preventDefault();
    void busy($<HTMLButtonElement>("email-change"), async () => {
      const newEmail = field(emailForm, "new_email").trim();
      // Moving the account to another address changes how it signs in: a stale session is asked
      // to confirm it's the user first (OWASP ASVS 5 V7.5.1), as the server requires.
      await withReauthentication(client, () => client.verification.requestEmailChange({ newEmail }), promptForReauthentication);
      emailForm.reset();
      // The same words whether or not another account has the address: the server mails it
      // only when it is free, and the page must not say which.
      say(
        `If no other account uses ${newEmail}, a confirmation link is on its way there, and your current address gets a notice. Your account moves once the link is followed.`,
      );
      return askForCode("change-email", newEmail);
    });
  });
}
