"use client";
// The navbar follows the session live: signing in or out in any tab updates it in every tab.
import { hasRole, signOut, useSession } from "@keyward/client/react";
import Link from "next/link";
import { useRouter } from "next/navigation";

/** What the static shell shows until the session is known. */
export function NavbarFallback() {
  return (
    <nav aria-label="Main">
      <Link href="/">Home</Link>
      <Link href="/dashboard">Dashboard</Link>
      <span className="spacer" />
      <span data-testid="session-status" role="status">
        Checking…
      </span>
    </nav>
  );
}

export function Navbar() {
  const { status, data } = useSession();
  const router = useRouter();
  return (
    <nav aria-label="Main">
      <Link href="/">Home</Link>
      <Link href="/dashboard">Dashboard</Link>
      <span className="spacer" />
      <span data-testid="session-status" role="status">
        {status === "loading" ? "Checking…" : data ? `Signed in as ${data.user.name ?? data.user.email}` : "Signed out"}
      </span>
      {/* Roles an operator gave the user (AdminService), in useSession like everywhere else. */}
      {hasRole(data, "admin") ? <span data-testid="admin-badge">admin</span> : null}
      {data ? (
        <button
          type="button"
          onClick={async () => {
            await signOut();
            router.refresh(); // server components and the proxy see the signed-out request
          }}
        >
          Sign out
        </button>
      ) : (
        <Link href="/signin">Sign in</Link>
      )}
    </nav>
  );
}
