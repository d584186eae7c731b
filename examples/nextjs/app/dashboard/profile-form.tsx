"use client";
// The profile form posts to a server action; once it saved, useSession().update() re-reads the
// session so the navbar (in this tab and the others) shows the new name.
import { useSession } from "@keyward/client/react";
import { useActionState, useEffect } from "react";
import { type ProfileState, updateProfile } from "./actions";

export function ProfileForm({ name }: { name: string }) {
  const [state, action, pending] = useActionState<ProfileState, FormData>(updateProfile, { saved: false, message: null });
  const { update } = useSession();
  useEffect(() => {
    if (state.saved) void update();
  }, [state, update]);
  return (
    <form action={action}>
      <label htmlFor="name">Display name</label>
      <input id="name" name="name" defaultValue={name} maxLength={200} aria-describedby="profile-message" />
      <button type="submit" disabled={pending}>
        Save name
      </button>
      <p id="profile-message" role="status">
        {state.message}
      </p>
    </form>
  );
}
