// The page's "Confirm it's you" dialog: asked by `withReauthentication` when a factor change
// answers REAUTHENTICATION_REQUIRED. Resolves with the password or the passkey choice, or null
// when the user cancels.

import type { Reauthentication } from "../src/index.js";
import { describeError } from "../src/messages.js";

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`#${id} is missing from the page`);
  return found as T;
}

/** Shows the dialog; `failed` (the previous attempt's error) is shown in it. */
export function promptForReauthentication(failed: unknown): Promise<Reauthentication | null> {
  const dialog = element<HTMLDialogElement>("reauth-dialog");
  const password = element<HTMLInputElement>("reauth-password");
  const error = element("reauth-error");
  error.hidden = failed === undefined;
  error.textContent = failed === undefined ? "" : describeError(failed);
  password.value = "";
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => {
        if (dialog.returnValue === "password") resolve({ password: password.value });
        else if (dialog.returnValue === "passkey") resolve({ passkey: true });
        else resolve(null);
        password.value = "";
      },
      { once: true },
    );
    dialog.showModal();
    password.focus();
  });
}
