// Sign-in with GitHub / OpenID Connect providers through OAuthService. The browser leaves for the
// provider and comes back to the app's redirect URI with `code` and `state`; Keyward keeps the
// PKCE verifier and nonce, the page keeps `state` to check that the callback is the round-trip it
// started (login CSRF).

import type { KeywardClient } from "./client.js";
import { isUnimplemented } from "./errors.js";
import { IdentityProviderIntent, type OAuthCallbackResponse, type OAuthProvider } from "./gen/keyward/v1/oauth_pb.js";

const STATE_KEY = "keyward.oauth-state";

/** The providers this server offers; empty when it has none or does not run OAuthService. */
export async function listProviders(client: KeywardClient): Promise<OAuthProvider[]> {
  try {
    return (await client.oauth.listProviders({})).providers;
  } catch (error) {
    if (isUnimplemented(error)) return [];
    throw error;
  }
}

export interface StartProviderSignInOptions {
  /** Must be one of the server's `oauth.redirect_uris`, exactly. */
  redirectUri: string;
  /** Link the provider account to the signed-in caller instead of signing in. */
  link?: boolean;
}

/**
 * Starts a round-trip with `providerId` and returns the URL to send the browser to. Remembers
 * the state in sessionStorage (this tab only) for `finishProviderSignIn`.
 */
export async function startProviderSignIn(
  client: KeywardClient,
  providerId: string,
  options: StartProviderSignInOptions,
): Promise<string> {
  const response = await client.oauth.startOAuth({
    provider: providerId,
    redirectUri: options.redirectUri,
    intent: options.link ? IdentityProviderIntent.LINK : IdentityProviderIntent.SIGN_IN,
  });
  sessionStorage.setItem(STATE_KEY, response.state);
  return response.authorizationUrl;
}

/**
 * The callback parameters in `url`, or undefined when it is not a provider callback. `iss` is the
 * RFC 9207 issuer some providers add; Keyward checks it names the provider the round-trip went to.
 */
export function providerCallbackParams(
  url: URL,
): { state: string; code: string; error: string; iss: string } | undefined {
  const state = url.searchParams.get("state");
  const code = url.searchParams.get("code") ?? "";
  const error = url.searchParams.get("error") ?? "";
  const iss = url.searchParams.get("iss") ?? "";
  return state && (code || error) ? { state, code, error, iss } : undefined;
}

/** Thrown when a callback's state is not the one this tab started. */
export class ProviderStateMismatchError extends Error {
  override name = "ProviderStateMismatchError";
}

/**
 * Finishes the round-trip from the callback URL (default: the current page's): checks the state
 * against the one `startProviderSignIn` kept, then calls OAuthCallback, which signs in (or links)
 * and sets the session cookie. Returns undefined when the URL is not a callback.
 */
export async function finishProviderSignIn(
  client: KeywardClient,
  url: URL = new URL(location.href),
): Promise<OAuthCallbackResponse | undefined> {
  const params = providerCallbackParams(url);
  if (!params) return undefined;
  const expected = sessionStorage.getItem(STATE_KEY);
  sessionStorage.removeItem(STATE_KEY);
  if (expected !== params.state) {
    throw new ProviderStateMismatchError("this sign-in was not started in this browser tab");
  }
  return client.oauth.oAuthCallback(params);
}
