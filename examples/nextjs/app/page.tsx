import Link from "next/link";
import { Suspense } from "react";
import { SignOutToSignIn } from "./sign-out-to-signin";

export default function Home() {
  return (
    <>
      <h1>Keyward + Next.js</h1>
      <p>
        An App Router app whose accounts live in Keyward. The <Link href="/dashboard">dashboard</Link> needs a session;
        the navbar above follows the session in every tab.
      </p>
      {/* It reads the session (useSession): under Suspense, the rest of the page is static. */}
      <Suspense fallback={null}>
        <SignOutToSignIn />
      </Suspense>
    </>
  );
}
