// Sign-in providers (GitHub, OIDC) from OAuthService, looked up by name in the generated
// registry: a build generated before OAuthService existed, or a server that does not run it
// (UNIMPLEMENTED), simply has no providers.

import type { KeywardClient } from "./client.js";
import { isUnimplemented } from "./errors.js";
import { registry } from "./gen/registry.js";

const OAUTH_SERVICE = "keyward.v1.OAuthService";

/** A configured sign-in provider, as ListProviders describes it. */
export interface Provider {
  id: string;
  displayName: string;
}

type DynamicClient = Record<string, (request: Record<string, unknown>) => Promise<Record<string, unknown>>>;

function oauthClient(client: KeywardClient): DynamicClient | undefined {
  const service = registry.getService(OAUTH_SERVICE);
  return service ? (client.service(service) as unknown as DynamicClient) : undefined;
}

function text(value: Record<string, unknown>, ...names: string[]): string {
  for (const name of names) {
    const field = value[name];
    if (typeof field === "string" && field !== "") return field;
  }
  return "";
}

/** The providers this server offers; empty when it has no OAuthService. */
export async function listProviders(client: KeywardClient): Promise<Provider[]> {
  const oauth = oauthClient(client);
  if (!oauth?.["listProviders"]) return [];
  let response: Record<string, unknown>;
  try {
    response = await oauth["listProviders"]({});
  } catch (error) {
    if (isUnimplemented(error)) return [];
    throw error;
  }
  const providers = (response["providers"] as Record<string, unknown>[] | undefined) ?? [];
  return providers
    .map((provider) => ({
      id: text(provider, "id", "providerId", "name"),
      displayName: text(provider, "displayName", "name", "id"),
    }))
    .filter((provider) => provider.id !== "");
}

/**
 * Starts the provider's sign-in and returns the authorization URL to navigate to; Keyward keeps
 * the state and PKCE verifier and finishes the sign-in at its callback.
 */
export async function startProviderSignIn(client: KeywardClient, providerId: string, redirectUri: string): Promise<string> {
  const oauth = oauthClient(client);
  if (!oauth?.["startOAuth"]) throw new Error("this client was generated without OAuthService");
  const response = await oauth["startOAuth"]({ provider: providerId, providerId, redirectUri });
  const url = text(response, "authorizationUrl", "authUrl", "url");
  if (!url) throw new Error("StartOAuth answered without an authorization URL");
  return url;
}
