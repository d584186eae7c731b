// A passkey as plain JSON (ISO 8601 strings, no Timestamp messages), for lists an app renders
// from a Server Component or a Client Component alike.

import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { Passkey } from "./gen/keyward/v1/passkey_pb.js";

export interface PasskeyInfo {
  id: string;
  /** The user-visible name ("iCloud Keychain", or what the user renamed it to). */
  name: string;
  /** The passkey provider its AAGUID names; null when unknown. */
  providerName: string | null;
  createdAt: string;
  /** Null until first used to sign in. */
  lastUsedAt: string | null;
  /** Synced to other devices by its provider. */
  backedUp: boolean;
}

function iso(time: Timestamp | undefined): string | null {
  return time ? timestampDate(time).toISOString() : null;
}

export function toPasskeyInfo(passkey: Passkey): PasskeyInfo {
  return {
    id: passkey.id,
    name: passkey.name,
    providerName: passkey.providerName || null,
    createdAt: iso(passkey.createTime) ?? "",
    lastUsedAt: iso(passkey.lastUsedTime),
    backedUp: passkey.backedUp,
  };
}
