// The session as plain JSON: what `getSession` (server) and `useSession` (React) hand to app code.
// ISO 8601 strings instead of Timestamp messages, no bigint, `null` for what is absent, so it goes
// through `Response.json()`, Server Component props and `postMessage` unchanged.

import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { Session, User } from "./gen/keyward/v1/resources_pb.js";

/** The signed-in user. */
export interface SessionUser {
  id: string;
  /** Normalized (trimmed, lower-case). */
  email: string;
  /** Display name; null when the user gave none. */
  name: string | null;
  /** Profile image URL; null when unknown. */
  image: string | null;
  /** When the email address was verified; null while it is not. */
  emailVerified: string | null;
  /** Whether the user can sign in with a password (false for passkey- or provider-only accounts). */
  hasPassword: boolean;
  /** The roles an operator gave the user (AdminService.UpdateUser); empty for none. See `hasRole`. */
  roles: string[];
  createdAt: string;
}

/** The database session behind the cookie. Its token is never part of it. */
export interface SessionInfo {
  id: string;
  userId: string;
  createdAt: string;
  /** Updated at most once per touch interval; null until then. */
  lastSeenAt: string | null;
  /** When the session ends if nothing changes: the earlier of the two below. */
  expiresAt: string;
  /** Moves forward with use. */
  idleExpiresAt: string;
  /** Never moves. */
  absoluteExpiresAt: string;
  /** The user agent the session was created from, as reported; null when unknown. */
  userAgent: string | null;
}

/** What `getSession` returns for a signed-in request, and `useSession().data`. */
export interface SessionData {
  user: SessionUser;
  session: SessionInfo;
}

function iso(time: Timestamp | undefined): string | null {
  return time ? timestampDate(time).toISOString() : null;
}

/**
 * A user and session (GetSession's answer, or a sign-in's `SignedIn`) as plain JSON. Throws when
 * either is missing.
 */
export function toSessionData({ user, session }: { user?: User | undefined; session?: Session | undefined }): SessionData {
  if (!user || !session) throw new Error("GetSession answered without a user or session");
  const idle = iso(session.idleExpireTime) ?? "";
  const absolute = iso(session.expireTime) ?? "";
  return {
    user: {
      id: user.id,
      email: user.email,
      name: user.name || null,
      image: user.image || null,
      emailVerified: iso(user.emailVerifyTime),
      hasPassword: user.hasPassword,
      roles: [...user.roles],
      createdAt: iso(user.createTime) ?? "",
    },
    session: {
      id: session.id,
      userId: session.userId,
      createdAt: iso(session.createTime) ?? "",
      lastSeenAt: iso(session.lastSeenTime),
      // ISO strings of one format compare like the times they name.
      expiresAt: idle && absolute ? (idle < absolute ? idle : absolute) : idle || absolute,
      idleExpiresAt: idle,
      absoluteExpiresAt: absolute,
      userAgent: session.userAgent || null,
    },
  };
}
