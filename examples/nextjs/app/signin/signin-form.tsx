"use client";
// Password and passkey sign-in from the browser. Focusing the email field starts passkey
// autofill (conditional mediation): the browser offers saved passkeys in the field's suggestions.
import { signIn } from "@keyward/client/react";
import { type FormEvent, useEffect, useRef, useState } from "react";
import { describeError } from "@keyward/client";

export function SignInForm(props: { action: (formData: FormData) => Promise<void>; returnTo: string; serverError: string | null }) {
  const [error, setError] = useState<string | null>(props.serverError);
  const [busy, setBusy] = useState(false);
  const autofill = useRef<AbortController | null>(null);
  const errorBox = useRef<HTMLParagraphElement>(null);

  useEffect(() => () => autofill.current?.abort(), []);
  // After every failed attempt, the message gets focus so a screen reader says it.
  useEffect(() => {
    if (error) errorBox.current?.focus();
  }, [error]);

  // A full navigation, not router.push: the client router may hold a prefetch of the protected
  // page from before (the proxy's redirect to here), and every server component must render anew
  // with the cookie. The other tabs update in place.
  const done = () => window.location.assign(props.returnTo);

  async function startAutofill() {
    if (autofill.current) return;
    const controller = new AbortController();
    autofill.current = controller;
    try {
      if (await signIn.passkey({ conditional: true, signal: controller.signal })) done();
    } catch (failure) {
      if (!controller.signal.aborted) setError(describeError(failure));
    } finally {
      if (autofill.current === controller) autofill.current = null;
    }
  }

  async function run(attempt: () => Promise<unknown>) {
    autofill.current?.abort(); // the browser runs one WebAuthn request at a time
    autofill.current = null;
    setBusy(true);
    setError(null);
    try {
      await attempt();
      done();
    } catch (failure) {
      setError(describeError(failure));
    } finally {
      setBusy(false);
    }
  }

  function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault(); // with JavaScript, sign in from the browser instead of the server action
    const form = new FormData(event.currentTarget);
    void run(() => signIn.password({ email: String(form.get("email") ?? ""), password: String(form.get("password") ?? "") }));
  }

  return (
    <>
      <form action={props.action} onSubmit={onSubmit} aria-describedby={error ? "signin-error" : undefined}>
        <input type="hidden" name="return_to" value={props.returnTo} />
        <label htmlFor="email">Email</label>
        <input id="email" name="email" type="email" autoComplete="username webauthn" required onFocus={() => void startAutofill()} />
        <label htmlFor="password">Password</label>
        <input id="password" name="password" type="password" autoComplete="current-password" required />
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
      <button type="button" disabled={busy} onClick={() => void run(() => signIn.passkey())}>
        Sign in with a passkey
      </button>
      <p id="signin-error" ref={errorBox} role="alert" tabIndex={-1} className="error">
        {error}
      </p>
    </>
  );
}
