// The sign-in page. The form works without JavaScript through a server action (signIn.password
// from @keyward/client/server, whose cookie the action sets on the response); with JavaScript it
// signs in from the browser (signIn.password from @keyward/client/react) so every tab updates.
import { safeReturnTo } from "../return-to";
import { signInWithPassword } from "./actions";
import { SignInForm } from "./signin-form";

export default async function SignInPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const params = await searchParams;
  const returnTo = safeReturnTo(params["return_to"]);
  const failed = params["error"] === "credentials";
  return (
    <>
      <h1>Sign in</h1>
      <SignInForm action={signInWithPassword} returnTo={returnTo} serverError={failed ? "That email and password don't match an account." : null} />
    </>
  );
}
