"use client";
// "Switch account": sign out and land on the sign-in page in one call. signOut({ redirectTo })
// ends the session, updates every tab, then navigates (a full page load, so nothing rendered for
// the user stays).
import { signOut, useSession } from "@keyward/client/react";

export function SignOutToSignIn() {
  const { data } = useSession();
  if (!data) return null;
  return (
    <button type="button" onClick={() => void signOut({ redirectTo: "/signin" })}>
      Switch account
    </button>
  );
}
