"use client";
// When the session ends while the page is open (signed out in another tab, revoked), leave the
// protected page instead of showing stale data.
import { useSession } from "@keyward/client/react";
import { useRouter } from "next/navigation";
import { useEffect } from "react";

export function RequireSession() {
  const { status } = useSession();
  const router = useRouter();
  useEffect(() => {
    if (status === "unauthenticated") router.replace("/signin?return_to=/dashboard");
  }, [status, router]);
  return null;
}
