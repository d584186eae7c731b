// A Server Component that reads the session itself: one line, plain JSON.
import { getSession } from "@keyward/client/server";
import { headers } from "next/headers";
import { redirect } from "next/navigation";
import { AddPasskey } from "./add-passkey";
import { ProfileForm } from "./profile-form";
import { RequireSession } from "./require-session";

// Rendered per request and sent whole (not streamed behind a fallback): a protected page has
// nothing worth showing before the session is known, and the proxy has already asked Keyward.
// With Cache Components (next.config.ts) a page that reads the request says so: `instant = false` makes it a blocking route.
export const instant = false;

export default async function Dashboard() {
  const session = await getSession({ headers: await headers() });
  if (!session) redirect("/signin?return_to=/dashboard"); // the proxy sends signed-out visits away first

  const { user } = session;
  return (
    <>
      <RequireSession />
      <h1>Dashboard</h1>
      <p data-testid="server-user">
        Rendered on the server for <strong>{user.name ?? user.email}</strong>.
      </p>
      <dl>
        <dt>Email</dt>
        <dd>{user.email}</dd>
        <dt>Roles</dt>
        <dd data-testid="server-roles">{user.roles.length ? user.roles.join(", ") : "none"}</dd>
        <dt>Password</dt>
        <dd>{user.hasPassword ? "set" : "none (passkeys only)"}</dd>
        <dt>Session ends</dt>
        <dd>
          <time dateTime={session.session.expiresAt}>{new Date(session.session.expiresAt).toUTCString()}</time>
        </dd>
      </dl>
      <h2>Profile</h2>
      <ProfileForm name={user.name ?? ""} />
      <h2>Passkeys</h2>
      <AddPasskey />
      <p>
        Manage passkeys, your email address and its confirmation on{" "}
        <a href="/keyward/signin">your account page</a> (Keyward&apos;s built-in page, through this app&apos;s origin).
      </p>
    </>
  );
}
