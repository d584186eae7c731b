// The sign-in page. The form works without JavaScript through a server action (signIn.password
// from @keyward/client/server, whose cookie the action sets on the response); with JavaScript it
// signs in from the browser (signIn.password from @keyward/client/react) so every tab updates.
// Sign-up and the mailed flows link to Keyward's built-in page at /keyward/signin.
import { safeReturnTo } from "../return-to";
import { signInWithPassword } from "./actions";
import { SignInForm } from "./signin-form";

// Rendered per request and sent whole, not streamed behind a fallback: the form must be in the
// HTML itself, so that it also works without JavaScript. With Cache Components (next.config.ts)
// a page that reads the request says so: `instant = false` makes it a blocking route.
export const instant = false;

export default async function SignInPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const params = await searchParams;
  const returnTo = safeReturnTo(params["return_to"]);
  const failed = params["error"] === "credentials";
  return (
    <>
      <h1>Sign in</h1>
      <SignInForm action={signInWithPassword} returnTo={returnTo} serverError={failed ? "That email and password don't match an account." : null} />
      {/* Everything else (sign-up, a forgotten password, a link or code by mail, passkey sign-up)
          is Keyward's built-in page, served through this app's /keyward rewrite: a plain link,
          not a Next.js route. It sends the user back to return_to (a path of this app). */}
      <p>
        New here, forgot your password, or rather sign in with a link by mail?{" "}
        <a href={`/keyward/signin?return_to=${encodeURIComponent(returnTo)}`}>More ways to sign in or create an account</a>
      </p>
    </>
  );
}
