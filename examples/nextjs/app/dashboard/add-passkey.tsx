"use client";
// Adds a passkey to the signed-in account: Keyward's options straight to navigator.credentials,
// the credential straight back, through the SessionProvider's client (the /keyward rewrite).
import { passkeys } from "@keyward/client/react";
import { useState } from "react";
import { describeError } from "@keyward/client";

export function AddPasskey() {
  const [message, setMessage] = useState<string | null>(null);
  return (
    <>
      <button
        type="button"
        onClick={async () => {
          try {
            const added = await passkeys.add();
            setMessage(added ? `Passkey added: ${added.passkey.name}.` : null);
          } catch (error) {
            setMessage(describeError(error));
          }
        }}
      >
        Add a passkey
      </button>
      <p role="status" data-testid="passkey-message">
        {message}
      </p>
    </>
  );
}
