// WebAuthn Level 3 JSON <-> browser objects. Browsers that have
// `PublicKeyCredential.parseCreationOptionsFromJSON` / `parseRequestOptionsFromJSON` /
// `credential.toJSON()` do this themselves; elsewhere the small base64url fallback below does.

/** Options JSON as Keyward sends it (`options_json`): WebAuthn's *OptionsJSON dictionaries. */
export type CreationOptionsJSON = Record<string, unknown> & {
  challenge: string;
  rp: { id?: string; name: string };
  user: { id: string; name: string; displayName: string };
  excludeCredentials?: { id: string; type: string; transports?: string[] }[];
};
export type RequestOptionsJSON = Record<string, unknown> & {
  challenge: string;
  rpId?: string;
  allowCredentials?: { id: string; type: string; transports?: string[] }[];
};

interface PublicKeyCredentialStatics {
  parseCreationOptionsFromJSON?(options: unknown): PublicKeyCredentialCreationOptions;
  parseRequestOptionsFromJSON?(options: unknown): PublicKeyCredentialRequestOptions;
  isConditionalMediationAvailable?(): Promise<boolean>;
  getClientCapabilities?(): Promise<Record<string, boolean>>;
  signalUnknownCredential?(options: { rpId: string; credentialId: string }): Promise<void>;
  signalAllAcceptedCredentials?(options: {
    rpId: string;
    userId: string;
    allAcceptedCredentialIds: string[];
  }): Promise<void>;
  signalCurrentUserDetails?(options: {
    rpId: string;
    userId: string;
    name: string;
    displayName: string;
  }): Promise<void>;
}

/** `PublicKeyCredential` with the Level 3 statics typed as optional, for feature detection. */
export function publicKeyCredential(): PublicKeyCredentialStatics | undefined {
  const pkc = (globalThis as { PublicKeyCredential?: unknown }).PublicKeyCredential;
  return typeof pkc === "function" ? (pkc as unknown as PublicKeyCredentialStatics) : undefined;
}

/** Whether this environment can run WebAuthn ceremonies at all. */
export function webauthnAvailable(): boolean {
  return publicKeyCredential() !== undefined && typeof navigator !== "undefined" && !!navigator.credentials;
}

export function base64urlToBytes(value: string): Uint8Array<ArrayBuffer> {
  const base64 = value.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(value.length / 4) * 4, "=");
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export function bytesToBase64url(value: ArrayBuffer | ArrayBufferView): string {
  const bytes =
    value instanceof ArrayBuffer ? new Uint8Array(value) : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * Parses `options_json`. Accepts the bare dictionary and, defensively, the
 * `{ "publicKey": { … } }` envelope some servers send.
 */
export function parseOptionsJson<T extends { challenge: string }>(optionsJson: string): T {
  const parsed = JSON.parse(optionsJson) as Record<string, unknown>;
  const inner = parsed["publicKey"];
  return (typeof parsed["challenge"] !== "string" && inner && typeof inner === "object" ? inner : parsed) as T;
}

function descriptors(list: { id: string; type: string; transports?: string[] }[] | undefined) {
  return list?.map((credential) => ({
    ...credential,
    type: credential.type as PublicKeyCredentialType,
    id: base64urlToBytes(credential.id),
    transports: credential.transports as AuthenticatorTransport[] | undefined,
  }));
}

export function toCreationOptions(json: CreationOptionsJSON): PublicKeyCredentialCreationOptions {
  const native = publicKeyCredential()?.parseCreationOptionsFromJSON;
  if (native) return native.call(publicKeyCredential(), json);
  const options = {
    ...json,
    challenge: base64urlToBytes(json.challenge),
    user: { ...json.user, id: base64urlToBytes(json.user.id) },
  } as unknown as PublicKeyCredentialCreationOptions;
  const exclude = descriptors(json.excludeCredentials);
  if (exclude) options.excludeCredentials = exclude;
  return options;
}

export function toRequestOptions(json: RequestOptionsJSON): PublicKeyCredentialRequestOptions {
  const native = publicKeyCredential()?.parseRequestOptionsFromJSON;
  if (native) return native.call(publicKeyCredential(), json);
  const options = { ...json, challenge: base64urlToBytes(json.challenge) } as unknown as PublicKeyCredentialRequestOptions;
  const allow = descriptors(json.allowCredentials);
  if (allow) options.allowCredentials = allow;
  return options;
}

/** RegistrationResponseJSON / AuthenticationResponseJSON of a credential. */
export function credentialToJSON(credential: PublicKeyCredential): Record<string, unknown> {
  const withToJSON = credential as PublicKeyCredential & { toJSON?: () => Record<string, unknown> };
  if (typeof withToJSON.toJSON === "function") return withToJSON.toJSON();
  const response = credential.response;
  const json: Record<string, unknown> = { clientDataJSON: bytesToBase64url(response.clientDataJSON) };
  if ("attestationObject" in response) {
    const attestation = response as AuthenticatorAttestationResponse;
    json["attestationObject"] = bytesToBase64url(attestation.attestationObject);
    if (typeof attestation.getTransports === "function") json["transports"] = attestation.getTransports();
    if (typeof attestation.getAuthenticatorData === "function") {
      json["authenticatorData"] = bytesToBase64url(attestation.getAuthenticatorData());
    }
    const publicKey = typeof attestation.getPublicKey === "function" ? attestation.getPublicKey() : null;
    if (publicKey) json["publicKey"] = bytesToBase64url(publicKey);
    if (typeof attestation.getPublicKeyAlgorithm === "function") {
      json["publicKeyAlgorithm"] = attestation.getPublicKeyAlgorithm();
    }
  } else {
    const assertion = response as AuthenticatorAssertionResponse;
    json["authenticatorData"] = bytesToBase64url(assertion.authenticatorData);
    json["signature"] = bytesToBase64url(assertion.signature);
    if (assertion.userHandle) json["userHandle"] = bytesToBase64url(assertion.userHandle);
  }
  return {
    id: credential.id,
    rawId: bytesToBase64url(credential.rawId),
    type: credential.type,
    authenticatorAttachment: credential.authenticatorAttachment ?? undefined,
    clientExtensionResults: credential.getClientExtensionResults(),
    response: json,
  };
}
