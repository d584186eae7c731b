// The mounted SessionProvider's client and refresh, for the module-level actions (`signIn`,
// `signOut`, `signUp`, the account flows), and how a change reaches every tab: this tab re-reads
// the session, the others are told over a BroadcastChannel. One provider per page is the norm;
// the most recently mounted one wins.

import type { KeywardClient } from "../client.js";
import type { SessionData } from "../session.js";

const CHANNEL = "keyward-session";

export interface ActiveProvider {
  client: KeywardClient;
  refresh: () => Promise<SessionData | null>;
}

let active: ActiveProvider | undefined;

/** Makes `entry` the provider actions use; returns the function that undoes it. */
export function activate(entry: ActiveProvider): () => void {
  active = entry;
  return () => {
    if (active === entry) active = undefined;
  };
}

export function provider(): ActiveProvider {
  if (!active) throw new Error("signIn / signOut and the account helpers need a mounted <SessionProvider>");
  return active;
}

export function channel(): BroadcastChannel | undefined {
  return typeof BroadcastChannel === "function" ? new BroadcastChannel(CHANNEL) : undefined;
}

/** Tells the other tabs of this origin that the session changed. */
export function announce() {
  const broadcast = channel();
  broadcast?.postMessage({ type: "session-changed" });
  broadcast?.close();
}

/** After a change: this tab reads the new session, the others are told to. */
export async function changed(): Promise<SessionData | null> {
  const data = await provider().refresh();
  announce();
  return data;
}

/** `changed()`, for a change that must have signed the user in. */
export async function signedIn(): Promise<SessionData> {
  const data = await changed();
  if (!data) throw new Error("signed in, but Keyward does not see the session: is the cookie reaching it?");
  return data;
}
