"use client";
// Adds a passkey to the signed-in account: Keyward's options straight to navigator.credentials,
// the credential straight back. The browser reaches Keyward through the /keyward rewrite.
import { createKeywardClient, registerPasskey } from "@keyward/client";
import { useState } from "react";
import { describeError } from "../messages";

const keyward = createKeywardClient({ baseUrl: "/keyward" });

export function AddPasskey() {
  const [message, setMessage] = useState<string | null>(null);
  return (
    <>
      <button
        type="button"
        onClick={async () => {
          try {
            const added = await registerPasskey(keyward);
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
