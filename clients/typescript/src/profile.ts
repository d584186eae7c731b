import type { KeywardClient } from "./client.js";
import type { User } from "./gen/keyward/v1/resources_pb.js";
import { type WebAuthnUser, signalCurrentUserDetails } from "./passkeys.js";

export interface UpdatedUser {
  user: User;
  /** Whether the browser's passkey managers were told the new name (Signal API present). */
  signalled: boolean;
}

/**
 * Renames the signed-in user (AuthService.UpdateUser; empty clears the name), then tells the
 * platform's passkey managers through the WebAuthn Signal API (`signalCurrentUserDetails`), so
 * the account chooser shows the new name on passkeys already stored. `webauthnUser` names the
 * user to the authenticator (rp id and user handle); without it, only the server is updated.
 */
export async function updateUserName(client: KeywardClient, name: string, webauthnUser?: WebAuthnUser): Promise<UpdatedUser> {
  const { user } = await client.auth.updateUser({ name });
  if (!user) throw new Error("UpdateUser answered without a user");
  const signalled = webauthnUser
    ? await signalCurrentUserDetails(webauthnUser, { name: user.email, displayName: user.name || user.email })
    : false;
  return { user, signalled };
}
