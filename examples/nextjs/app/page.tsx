import Link from "next/link";
import { SignOutToSignIn } from "./sign-out-to-signin";

export default function Home() {
  return (
    <>
      <h1>Keyward + Next.js</h1>
      <p>
        An App Router app whose accounts live in Keyward. The <Link href="/dashboard">dashboard</Link> needs a session;
        the navbar above follows the session in every tab.
      </p>
      <SignOutToSignIn />
    </>
  );
}
