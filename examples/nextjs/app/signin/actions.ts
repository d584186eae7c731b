"use server";
// The no-JavaScript path: the server signs in and passes Keyward's session cookie on to the
// browser. The token comes from Keyward's Set-Cookie (never from a response body).
import { hasReason, signIn } from "@keyward/client/server";
import { cookies, headers } from "next/headers";
import { redirect } from "next/navigation";
import { safeReturnTo } from "../return-to";

export async function signInWithPassword(formData: FormData): Promise<void> {
  const returnTo = safeReturnTo(formData.get("return_to"));
  try {
    const { cookie } = await signIn.password({
      email: String(formData.get("email") ?? ""),
      password: String(formData.get("password") ?? ""),
      headers: await headers(),
    });
    (await cookies()).set(cookie);
  } catch (error) {
    if (hasReason(error, "INVALID_CREDENTIALS", "INVALID_EMAIL", "FIELD_REQUIRED", "PASSWORD_TOO_LONG")) {
      redirect(`/signin?error=credentials&return_to=${encodeURIComponent(returnTo)}`);
    }
    throw error;
  }
  redirect(returnTo);
}
