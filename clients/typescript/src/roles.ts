// `hasRole`: the one check apps write against the roles an operator gave a user
// (AdminService.UpdateUser). The same roles reach every typed helper: `SessionUser.roles`
// (getSession, useSession) and the `roles` claim of access tokens (verifyAccessToken).

/** Anything that carries roles: a `SessionUser`, a `SessionData`, or access-token claims. */
export type HasRoles = { roles?: readonly string[] | undefined } | { user: { roles?: readonly string[] | undefined } };

/**
 * Whether `subject` has at least one of `roles` (compared exactly). False for null or undefined
 * (signed out) and when no role is asked for, so a forgotten argument never grants anything.
 *
 * ```ts
 * const session = await getSession({ headers: await headers() });
 * if (!hasRole(session, "admin")) forbidden();
 * ```
 */
export function hasRole(subject: HasRoles | null | undefined, ...roles: string[]): boolean {
  if (!subject) return false;
  const held = "user" in subject ? subject.user.roles : subject.roles;
  return !!held && roles.some((role) => held.includes(role));
}
