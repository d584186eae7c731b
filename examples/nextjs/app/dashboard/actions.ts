"use server";
// A server action that changes the account: any Keyward RPC, on the user's behalf, with the
// session token from their cookie as a bearer token.
import { createKeywardClient } from "@keyward/client";
import { getSessionToken, hasReason, keywardUrl } from "@keyward/client/server";
import { revalidatePath } from "next/cache";
import { headers } from "next/headers";

export interface ProfileState {
  saved: boolean;
  message: string | null;
}

export async function updateProfile(_previous: ProfileState, formData: FormData): Promise<ProfileState> {
  const token = getSessionToken({ headers: await headers() });
  if (!token) return { saved: false, message: "You are signed out. Sign in again." };
  const keyward = createKeywardClient({ baseUrl: keywardUrl(), token });
  try {
    await keyward.auth.updateUser({ name: String(formData.get("name") ?? "") });
  } catch (error) {
    if (hasReason(error, "FIELD_TOO_LONG")) return { saved: false, message: "That name is too long." };
    if (hasReason(error, "SESSION_INVALID", "NOT_SIGNED_IN")) return { saved: false, message: "Your session has ended. Sign in again." };
    throw error;
  }
  revalidatePath("/", "layout");
  return { saved: true, message: "Saved." };
}
