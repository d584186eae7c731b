"use client";
// @keyward/client/react: the session in React. `SessionProvider` holds it (seeded with what the
// server already read, so the first paint is right), `useSession()` reads it, and `signIn` /
// `signOut` change it — in this tab and, through a BroadcastChannel, in every other tab of the
// app. The browser talks to Keyward over grpc-web through the app's same-origin `/keyward`
// rewrite, so the session cookie is first-party and HttpOnly: no token ever reaches JavaScript.

import * as React from "react";
import { type ReactNode, createContext, createElement, useCallback, useContext, useEffect, useMemo, useRef, useState } from "react";
import { type KeywardClient, createKeywardClient } from "../client.js";
import { hasReason } from "../errors.js";
import { type SignInWithPasskeyOptions, signInWithPasskey } from "../passkeys.js";
import { type MailedProof, proofFields } from "../mailed.js";
import { type SessionData, toSessionData } from "../session.js";
import { activate, announce, changed, channel, provider, signedIn } from "./active.js";

export type { SessionData, SessionInfo, SessionUser } from "../session.js";
export type { MailedProof } from "../mailed.js";
export type { PasskeyInfo } from "../passkey-info.js";
export { hasRole } from "../roles.js";
export { describeError } from "../messages.js";
export { passkeys, requestPasswordReset, resetPassword, sendMagicLink, sendVerificationEmail, signUp, verifyEmail } from "./account.js";
export type { MailOptions } from "./account.js";

/** Where the browser reaches Keyward by default: the app's own origin, rewritten to Keyward. */
export const DEFAULT_BROWSER_BASE_URL = "/keyward";

export type SessionStatus = "loading" | "authenticated" | "unauthenticated";

export interface UseSession {
  status: SessionStatus;
  /** The session as plain JSON; null while loading or signed out. */
  data: SessionData | null;
  /** Re-reads the session from Keyward (and tells the other tabs). Resolves to the new value. */
  update(): Promise<SessionData | null>;
}

export interface SessionProviderProps {
  children?: ReactNode;
  /**
   * The session the server already read with `getSession` (plain JSON, so it passes from a
   * Server Component): the first render shows it, with no loading flash. `null` means signed
   * out; leave it out to fetch on mount.
   *
   * Or the promise of it, not awaited (`headers().then((h) => getSession({ headers: h }))`): what
   * Next.js's Cache Components want, so the layout stays a static shell. Components that call
   * `useSession()` then suspend until it settles: put them under a `<Suspense>` (the fallback is
   * what the static shell shows).
   */
  session?: SessionData | null | PromiseLike<SessionData | null>;
  /** Where this page reaches Keyward's grpc-web. Default `/keyward` (the same-origin rewrite). */
  baseUrl?: string;
  /** Re-read the session every this many seconds while the page is visible; 0 (the default) never. */
  refetchInterval?: number;
  /** Re-read the session when the tab becomes visible again (default true). */
  refetchOnWindowFocus?: boolean;
}

interface State {
  status: SessionStatus;
  data: SessionData | null;
}

/** The context's value: `useSession()`'s, plus the server's promise while it is the only answer. */
interface ContextValue extends UseSession {
  seed: PromiseLike<SessionData | null> | undefined;
}

function isPromise<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as PromiseLike<T> | null)?.then === "function";
}

/** `session` as a first state: a value is the answer, a promise is not yet. */
function initialState(session: SessionProviderProps["session"]): State {
  return session === undefined || isPromise(session) ? { status: "loading", data: null } : stateOf(session);
}

const SessionContext = createContext<ContextValue | undefined>(undefined);

/** Reads the session through grpc-web with the browser's cookie: null when signed out. */
async function readSession(client: KeywardClient): Promise<SessionData | null> {
  try {
    return toSessionData(await client.auth.getSession({}));
  } catch (error) {
    if (hasReason(error, "NOT_SIGNED_IN", "SESSION_INVALID")) return null;
    throw error;
  }
}

function stateOf(data: SessionData | null): State {
  return { status: data ? "authenticated" : "unauthenticated", data };
}

/** Holds the session for `useSession()` below it. */
export function SessionProvider(props: SessionProviderProps): ReactNode {
  const { children, session, baseUrl = DEFAULT_BROWSER_BASE_URL, refetchInterval = 0, refetchOnWindowFocus = true } = props;
  const client = useMemo(() => createKeywardClient({ baseUrl }), [baseUrl]);
  const [state, setState] = useState<State>(() => initialState(session));
  // Answers can overtake each other (focus, interval, another tab): only the latest one counts.
  const generation = useRef(0);

  const refresh = useCallback(async () => {
    const mine = ++generation.current;
    try {
      const data = await readSession(client);
      if (mine === generation.current) setState(stateOf(data));
      return data;
    } catch (error) {
      // An outage is not a sign-out: keep what we had (leave "loading" for "unauthenticated"
      // only once Keyward answers).
      if (mine === generation.current) setState((previous) => (previous.status === "loading" ? stateOf(null) : previous));
      throw error;
    }
  }, [client]);

  // A new server-read session (navigation in the App Router re-renders the layout) wins, unless
  // a re-read started since it was asked for.
  useEffect(() => {
    if (session === undefined) return;
    if (!isPromise(session)) {
      setState(stateOf(session));
      return;
    }
    const mine = generation.current;
    session.then(
      (data) => {
        if (mine === generation.current) setState(stateOf(data));
      },
      // The server could not read it (Keyward unreachable): ask from the browser instead.
      () => void refresh().catch(() => undefined),
    );
  }, [session, refresh]);

  useEffect(() => {
    const deactivate = activate({ client, refresh });
    if (session === undefined) void refresh().catch(() => undefined);
    const broadcast = channel();
    if (broadcast) broadcast.onmessage = () => void refresh().catch(() => undefined);
    return () => {
      broadcast?.close();
      deactivate();
    };
    // `session` is only the first paint's seed here; later values arrive through the effect above.
  }, [client, refresh]);

  useEffect(() => {
    if (!refetchOnWindowFocus) return undefined;
    const onVisible = () => {
      if (document.visibilityState === "visible") void refresh().catch(() => undefined);
    };
    document.addEventListener("visibilitychange", onVisible);
    return () => document.removeEventListener("visibilitychange", onVisible);
  }, [refresh, refetchOnWindowFocus]);

  useEffect(() => {
    if (!(refetchInterval > 0)) return undefined;
    const timer = setInterval(() => {
      if (document.visibilityState === "visible") void refresh().catch(() => undefined);
    }, refetchInterval * 1000);
    return () => clearInterval(timer);
  }, [refresh, refetchInterval]);

  const value = useMemo<ContextValue>(
    () => ({
      ...state,
      seed: state.status === "loading" && session !== undefined && isPromise(session) ? session : undefined,
      update: async () => {
        const data = await refresh();
        announce();
        return data;
      },
    }),
    [state, refresh, session],
  );
  return createElement(SessionContext.Provider, { value }, children);
}

/**
 * The session: `{ status, data, update }`. Must be used under a `SessionProvider`. While the
 * provider's `session` is a promise that has not settled, this suspends (React 19's `use`) until
 * it does; with React 18 it answers "loading" instead.
 */
export function useSession(): UseSession {
  const value = useContext(SessionContext);
  if (!value) throw new Error("useSession() must be used inside <SessionProvider>");
  const { seed, ...session } = value;
  const use = (React as { use?: <T>(promise: PromiseLike<T>) => T }).use;
  if (seed && use) {
    const data = use(seed);
    return { ...stateOf(data), update: session.update };
  }
  return session;
}

/**
 * Signs in from the browser, then updates every tab. Failures are KeywardErrors (switch on
 * `reason`: `INVALID_CREDENTIALS`, …) or, for passkeys, PasskeyCeremonyErrors.
 */
export const signIn = {
  /** Email and password. Resolves to the new session. */
  async password(credentials: { email: string; password: string }): Promise<SessionData> {
    await provider().client.auth.login(credentials);
    return signedIn();
  },
  /** With a magic link's token, or the address and the code from its mail (`sendMagicLink`). */
  async magicLink(proof: MailedProof): Promise<SessionData> {
    await provider().client.verification.signInWithMagicLink(proofFields(proof));
    return signedIn();
  },
  /**
   * A passkey: discoverable by default, narrowed with `email`, or passkey autofill with
   * `conditional: true` (resolves to null when the browser has no autofill).
   */
  async passkey(options: SignInWithPasskeyOptions = {}): Promise<SessionData | null> {
    const result = await signInWithPasskey(provider().client, options);
    if (!result) return null;
    return changed();
  },
};

export interface SignOutOptions {
  /**
   * Where to go afterwards (a full navigation, so every Server Component renders signed out).
   * Give a path of this app, or a URL you trust: it is not checked here.
   */
  redirectTo?: string;
}

/** Ends the session (Keyward clears the cookie), then updates every tab (and goes to `redirectTo`). */
export async function signOut(options: SignOutOptions = {}): Promise<void> {
  try {
    await provider().client.auth.logout({});
  } catch (error) {
    // Already signed out (here or in another tab): the outcome the caller wanted.
    if (!hasReason(error, "NOT_SIGNED_IN", "SESSION_INVALID")) throw error;
  }
  await changed();
  if (options.redirectTo !== undefined) window.location.assign(options.redirectTo);
}
