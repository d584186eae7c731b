// `verifyAccessToken`: check a Keyward access token locally, with Keyward's published keys, on
// a service's hot path (no call to Keyward per request).

import { createRemoteJWKSet, errors, jwtVerify } from "jose";
import { type ServerOptions, environment, keywardUrl } from "./options.js";

/** The claims of a Keyward access token that passed every check. */
export interface AccessTokenClaims {
  /** The user id. */
  sub: string;
  /** The session id: call GetSession with the token when revocation must show at once. */
  sid: string;
  iss: string;
  aud: string | string[];
  /** Seconds since the epoch. */
  exp: number;
  iat: number;
  jti?: string;
  /**
   * The roles an operator gave the user, as they were when the token was issued (at most
   * `access_token_ttl_secs` ago); empty for none, also for tokens from before roles existed.
   * See `hasRole`.
   */
  roles: string[];
}

export interface VerifyAccessTokenOptions extends Pick<ServerOptions, "baseUrl"> {
  /**
   * The `iss` Keyward signs with (its `issuer` setting; set one in production). Default: the
   * `KEYWARD_ISSUER` environment variable, else Keyward's default, its own address (`baseUrl`).
   */
  issuer?: string;
  /** The `aud` to require. Default: `KEYWARD_AUDIENCE`, else Keyward's default, "keyward". */
  audience?: string;
  /** Where the keys are. Default: `<baseUrl>/.well-known/jwks.json`. */
  jwksUrl?: string;
  /** Clock skew allowed on `exp` / `iat`, in seconds. Default 0: the tokens are short-lived. */
  clockToleranceSeconds?: number;
}

/** Why a token was refused: `code` is jose's (`ERR_JWT_EXPIRED`, `ERR_JWS_SIGNATURE_VERIFICATION_FAILED`, …). */
export class AccessTokenError extends Error {
  override name = "AccessTokenError";
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** One remote key set per URL: jose caches the keys and refetches (at most every 30 s) on an unknown `kid`. */
const keySets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

function keySet(url: string) {
  let set = keySets.get(url);
  if (!set) {
    set = createRemoteJWKSet(new URL(url));
    keySets.set(url, set);
  }
  return set;
}

/**
 * Verifies a Keyward access token: EdDSA only (no `none`, no HMAC confusion), `typ: at+jwt`
 * (RFC 9068; an ID token or other JWT is refused), the key only from Keyward's JWKS by `kid`,
 * and `iss`, `aud`, `exp` (RFC 8725). Returns the claims; throws an AccessTokenError otherwise.
 */
export async function verifyAccessToken(token: string, options: VerifyAccessTokenOptions = {}): Promise<AccessTokenClaims> {
  const baseUrl = keywardUrl(options).replace(/\/+$/, "");
  const issuer = options.issuer ?? environment("KEYWARD_ISSUER") ?? baseUrl;
  const audience = options.audience ?? environment("KEYWARD_AUDIENCE") ?? "keyward";
  const jwks = keySet(options.jwksUrl ?? `${baseUrl}/.well-known/jwks.json`);
  try {
    const { payload } = await jwtVerify(token, jwks, {
      algorithms: ["EdDSA"],
      typ: "at+jwt",
      issuer,
      audience,
      requiredClaims: ["sub", "sid", "exp", "iat"],
      clockTolerance: options.clockToleranceSeconds ?? 0,
    });
    if (typeof payload["sid"] !== "string") throw new AccessTokenError("ERR_JWT_CLAIM_VALIDATION_FAILED", '"sid" is not a string');
    const roles = payload["roles"] ?? [];
    if (!Array.isArray(roles) || !roles.every((role) => typeof role === "string")) {
      throw new AccessTokenError("ERR_JWT_CLAIM_VALIDATION_FAILED", '"roles" is not a list of strings');
    }
    return { ...payload, roles } as unknown as AccessTokenClaims;
  } catch (error) {
    if (error instanceof AccessTokenError) throw error;
    if (error instanceof errors.JOSEError) throw new AccessTokenError(error.code, error.message, { cause: error });
    throw new AccessTokenError("ERR_INVALID_TOKEN", error instanceof Error ? error.message : String(error), { cause: error });
  }
}
