// Re-authentication: factor changes (adding or deleting a passkey, linking or unlinking a
// provider, ending other sessions) need the user to have proved a factor recently. When they have
// not, Keyward answers FAILED_PRECONDITION / REAUTHENTICATION_REQUIRED; the app asks the user to
// confirm it's them (password or passkey), re-authenticates the current session, and retries.

import type { KeywardClient } from "./client.js";
import { KeywardError, hasReason } from "./errors.js";
import { reauthenticateWithPasskey } from "./passkeys.js";

/** The reason a factor change is refused with when the session's last proof is too old. */
export const REAUTHENTICATION_REQUIRED = "REAUTHENTICATION_REQUIRED";

/** How the user confirms it's them. */
export type Reauthentication = { password: string } | { passkey: true; signal?: AbortSignal };

/** Re-authenticates the caller's current session; creates no new session. */
export async function reauthenticate(client: KeywardClient, how: Reauthentication): Promise<void> {
  if ("password" in how) {
    await client.auth.reauthenticate({ password: how.password });
  } else {
    await reauthenticateWithPasskey(client, how.signal);
  }
}

/**
 * Asks the user how to confirm it's them. `failed` is the error of the previous attempt (a wrong
 * password, a cancelled passkey prompt) or undefined the first time. Resolve null to give up.
 */
export type ReauthenticationPrompt = (failed: unknown) => Promise<Reauthentication | null>;

/**
 * Runs `action`. When Keyward answers REAUTHENTICATION_REQUIRED, asks `prompt`, re-authenticates
 * (asking again after a wrong password or a failed passkey, until the prompt gives up) and runs
 * `action` once more. If the user gives up, the original error is thrown.
 */
export async function withReauthentication<T>(
  client: KeywardClient,
  action: () => Promise<T>,
  prompt: ReauthenticationPrompt,
): Promise<T> {
  try {
    return await action();
  } catch (error) {
    if (!hasReason(error, REAUTHENTICATION_REQUIRED)) throw error;
    let failed: unknown = undefined;
    for (;;) {
      const how = await prompt(failed);
      if (!how) throw error;
      try {
        await reauthenticate(client, how);
        break;
      } catch (attempt) {
        // Anything else (a dead session, the network) is not the user's to retry here.
        if (attempt instanceof KeywardError && !hasReason(attempt, "PASSWORD_INCORRECT", "FIELD_REQUIRED")) throw attempt;
        failed = attempt;
      }
    }
    return action();
  }
}
