// The built-in sign-in page: password and passkey sign-up / sign-in, passkey management and the
// current session, over the same TypeScript client and grpc-web path a customer's app uses; the
// mailed links and codes are in email.ts.

import type { Timestamp } from "@bufbuild/protobuf/wkt";
import {
  type GetSessionResponse,
  PasskeyCeremonyError,
  type Passkey,
  type WebAuthnUser,
  conditionalGetAvailable,
  createKeywardClient,
  hasReason,
  bytesToBase64url,
  isUnimplemented,
  listProviders,
  registerPasskey,
  signInWithPasskey,
  signUpWithPasskey,
  signalAllAcceptedCredentials,
  signalCurrentUserDetails,
  updateUserName,
  finishProviderSignIn,
  providerCallbackParams,
  startProviderSignIn,
  webauthnAvailable,
  withReauthentication,
} from "../src/index.js";
import { type EmailPage, bindEmail, finishMailedLink, showVerification, signUpCode } from "./email.js";
import { takeMailedLink } from "./links.js";
import { promptForReauthentication } from "./reauth.js";
import { allowedReturnTo } from "./return-to.js";
import { $, busy, fail, field, say } from "./ui.js";

// Everything is relative to where the page is served: this script is `<base>/signin/app.js`,
// so Keyward's API is at `<base>` and the page's settings beside the script. On Keyward itself
// `<base>` is its origin; behind an app's rewrite (`/keyward/:path*`) it is `<app>/keyward`.
const API_BASE = new URL("..", import.meta.url).href.replace(/\/$/, "");
const CONFIG_URL = new URL("config.json", import.meta.url).href;
const client = createKeywardClient({ baseUrl: API_BASE });
/** The product users sign in to (`signin.product_name`), as the server wrote it into the heading. */
const PRODUCT_NAME = document.getElementById("product-name")?.textContent ?? "Keyward";
// The titles in the page's language, as the server rendered it (its <title>, its headings).
const SIGNED_OUT_TITLE = document.title;
const SIGNED_IN_TITLE = `${document.getElementById("session-heading")?.textContent ?? "Signed in"} · ${PRODUCT_NAME}`;
/** Where providers send the browser back: this page. Add it to the server's `oauth.redirect_uris`. */
const REDIRECT_URI = `${location.origin}${location.pathname}`;

// One pending background ceremony at a time (passkey autofill, conditional create): a browser
// runs a single WebAuthn request, so anything the user starts first aborts it and waits until the
// browser has let go of it.
let background: { controller: AbortController; settled: Promise<void> } | undefined;
async function abortBackground(): Promise<void> {
  const pending = background;
  background = undefined;
  if (!pending) return;
  pending.controller.abort();
  await pending.settled;
}
async function runInBackground(task: (signal: AbortSignal) => Promise<void>): Promise<void> {
  await abortBackground();
  const controller = new AbortController();
  const settled = task(controller.signal).catch(() => undefined);
  background = { controller, settled };
  await settled;
  if (background?.settled === settled) background = undefined;
}

// The Signal API names users by their WebAuthn user handle, which Keyward makes from the user id
// (the UUID's 16 bytes), and credentials by RP ID, learned from the last ceremony (the host name
// until then; it is the default rp_id when the page is on the RP's own host).
const RP_ID_KEY = "keyward.rp-id";
function rememberRpId(user: WebAuthnUser) {
  localStorage.setItem(RP_ID_KEY, user.rpId);
}
function webAuthnUser(keywardUserId: string): WebAuthnUser | undefined {
  const hex = keywardUserId.replace(/-/g, "");
  if (!/^[0-9a-f]{32}$/i.test(hex)) return undefined;
  const bytes = new Uint8Array(hex.match(/../g)!.map((pair) => parseInt(pair, 16)));
  return { rpId: localStorage.getItem(RP_ID_KEY) ?? location.hostname, userId: bytesToBase64url(bytes) };
}

let current: GetSessionResponse | undefined;

// `?return_to=`: where the app that sent the user here wants them back. Kept in sessionStorage
// across a provider round-trip (providers come back to this page's exact redirect URI).
const RETURN_TO_KEY = "keyward.return-to";
let returnTo: URL | undefined;

/** `signin/config.json`: what the page needs of the server's settings. */
interface PageConfig {
  returnToOrigins: string[];
  /** Passkey-only sign-up needs the code StartPasskeySignUp mails (one setting for everyone). */
  requireEmailVerification: boolean;
}
let config: Promise<PageConfig> | undefined;
function pageConfig(): Promise<PageConfig> {
  config ??= fetch(CONFIG_URL, { cache: "no-cache" })
    .then(async (response) => {
      if (!response.ok) throw new Error(`${CONFIG_URL} answered ${response.status}`);
      return (await response.json()) as PageConfig;
    })
    .catch((error: unknown) => {
      // Asked again next time: one failed fetch must not break sign-up until a reload.
      config = undefined;
      throw error;
    });
  return config;
}

async function loadReturnTo() {
  const requested = new URL(location.href).searchParams.get("return_to") ?? sessionStorage.getItem(RETURN_TO_KEY);
  sessionStorage.removeItem(RETURN_TO_KEY);
  if (!requested) return;
  const { returnToOrigins } = await pageConfig();
  returnTo = allowedReturnTo(requested, location.origin, returnToOrigins);
  const note = $("return-note");
  note.textContent = returnTo
    ? `After signing in you will go back to ${returnTo.host}.`
    : "The link that brought you here asked to send you on to an address this server does not allow, so you will stay on this page.";
  note.hidden = false;
}

/** Once signed in: back to the app when it asked for that (and it is allowed). True when leaving. */
function leaveIfReturning(): boolean {
  if (!returnTo || !current?.user) return false;
  location.assign(returnTo.href);
  return true;
}

function formatTime(time: Timestamp | undefined): string {
  if (!time) return "never";
  return new Date(Number(time.seconds) * 1000).toLocaleString();
}

async function refresh(): Promise<void> {
  try {
    current = await client.auth.getSession({});
  } catch (error) {
    current = undefined;
    if (!hasReason(error, "NOT_SIGNED_IN", "SESSION_INVALID")) fail(error);
  }
  if (current?.user) await showSignedIn(current);
  else showSignedOut();
}

function showSignedOut() {
  $("signed-in").hidden = true;
  $("signed-out").hidden = false;
  document.title = SIGNED_OUT_TITLE;
  if (document.activeElement === $("signin-email")) void startPasskeyAutofill();
}

async function showSignedIn(session: GetSessionResponse) {
  const user = session.user!;
  $("signed-out").hidden = true;
  $("signed-in").hidden = false;
  document.title = SIGNED_IN_TITLE;
  $("session-email").textContent = user.email;
  $("session-name").textContent = user.name || "—";
  $<HTMLInputElement>("profile-name").value = user.name;
  $("session-password").textContent = user.hasPassword ? "set" : "not set";
  const ends = [session.session?.idleExpireTime, session.session?.expireTime]
    .filter((t): t is Timestamp => !!t)
    .sort((a, b) => Number(a.seconds - b.seconds))[0];
  $("session-expires").textContent = formatTime(ends);
  showVerification(user);
  await loadPasskeys();
}

/**
 * Passkey autofill: a conditional request that waits until the user picks a passkey from the
 * email field's autofill. Started when the field is first focused (and again after a failed or
 * cancelled attempt), not on load, so the page never starts a ceremony nobody asked for.
 */
async function startPasskeyAutofill() {
  if (background || current?.user || !webauthnAvailable() || !(await conditionalGetAvailable())) return;
  await runInBackground(async (signal) => {
    try {
      const result = await signInWithPasskey(client, { conditional: true, signal });
      if (result) await afterPasskeySignIn(result);
    } catch (error) {
      // Autofill stays quiet about the browser's side (nothing picked, no passkeys here) and
      // about a server without PasskeyService; what Keyward says about a chosen passkey shows.
      if (signal.aborted || error instanceof PasskeyCeremonyError || isUnimplemented(error)) return;
      fail(error);
    }
  });
}

async function afterPasskeySignIn(user: WebAuthnUser) {
  rememberRpId(user);
  await refresh();
  if (leaveIfReturning()) return;
  if (current?.user) {
    say(`Signed in with a passkey as ${current.user.email}.`);
    // Keep what the authenticator shows in step with the account.
    await signalCurrentUserDetails(user, { name: current.user.email, displayName: current.user.name || current.user.email });
  }
}

async function loadPasskeys() {
  const list = $("passkey-list");
  let passkeys: Passkey[] = [];
  try {
    passkeys = (await client.passkeys.listPasskeys({})).passkeys;
  } catch (error) {
    // A server without PasskeyService still serves the rest of the page.
    if (!isUnimplemented(error)) throw error;
  }
  list.replaceChildren(...passkeys.map(passkeyItem));
  $("passkeys-empty").hidden = passkeys.length > 0;
  const user = current?.user && webAuthnUser(current.user.id);
  if (user) await signalAllAcceptedCredentials(user, passkeys);
}

function passkeyItem(passkey: Passkey): HTMLLIElement {
  const item = document.createElement("li");
  item.dataset["passkeyId"] = passkey.id;
  const name = document.createElement("strong");
  name.className = "passkey-name";
  name.textContent = passkey.name;
  const meta = document.createElement("span");
  meta.className = "meta";
  // The provider the AAGUID names ("iCloud Keychain"), unless the passkey is already named so.
  const provider = passkey.providerName && passkey.providerName !== passkey.name ? `${passkey.providerName} · ` : "";
  meta.textContent = `${provider}Added ${formatTime(passkey.createTime)} · last used ${formatTime(passkey.lastUsedTime)}${
    passkey.backedUp ? " · synced" : ""
  }`;
  const rename = button(`Rename`, `Rename passkey ${passkey.name}`);
  const remove = button(`Delete`, `Delete passkey ${passkey.name}`);
  rename.addEventListener("click", () => item.replaceChildren(renameForm(passkey)));
  remove.addEventListener("click", () =>
    busy(remove, async () => {
      // A factor change: a stale session is asked to confirm it's the user first.
      await withReauthentication(client, () => client.passkeys.deletePasskey({ passkeyId: passkey.id }), promptForReauthentication);
      say(`Passkey “${passkey.name}” deleted.`);
      await loadPasskeys();
    }),
  );
  item.append(name, meta, rename, " ", remove);
  return item;
}

function button(text: string, label: string): HTMLButtonElement {
  const element = document.createElement("button");
  element.type = "button";
  element.textContent = text;
  element.setAttribute("aria-label", label);
  return element;
}

function renameForm(passkey: Passkey): HTMLFormElement {
  const form = document.createElement("form");
  const label = document.createElement("label");
  label.textContent = "New name";
  const input = document.createElement("input");
  input.name = "name";
  input.value = passkey.name;
  input.required = true;
  label.append(input);
  const save = document.createElement("button");
  save.type = "submit";
  save.textContent = "Save";
  const cancel = button("Cancel", "Cancel renaming");
  cancel.addEventListener("click", () => void loadPasskeys().catch(fail));
  form.append(label, save, cancel);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void busy(save, async () => {
      const renamed = await client.passkeys.renamePasskey({ passkeyId: passkey.id, name: input.value });
      say(`Passkey renamed to “${renamed.passkey?.name ?? input.value}”.`);
      await loadPasskeys();
    });
  });
  queueMicrotask(() => input.focus());
  return form;
}

async function loadProviders() {
  const providers = await listProviders(client);
  const list = $("provider-list");
  list.replaceChildren(
    ...providers.map((provider) => {
      const item = document.createElement("li");
      const go = button(provider.displayName, `Continue with ${provider.displayName}`);
      go.textContent = provider.displayName;
      go.className = "secondary";
      go.addEventListener("click", () =>
        busy(go, async () => {
          if (returnTo) sessionStorage.setItem(RETURN_TO_KEY, returnTo.href);
          location.assign(await startProviderSignIn(client, provider.id, { redirectUri: REDIRECT_URI }));
        }),
      );
      item.append(go);
      return item;
    }),
  );
  $("providers").hidden = providers.length === 0;
  $("providers").dataset["loaded"] = "true";
}

function bind() {
  bindEmail(emailPage);
  $("signin-email").addEventListener("focus", () => void startPasskeyAutofill());
  const signinForm = $<HTMLFormElement>("signin-form");
  signinForm.addEventListener("submit", (event) => {
    event.preventDefault();
    void busy(signinForm.querySelector("button[type=submit]"), async () => {
      await abortBackground();
      const signedIn = (await client.auth.login({ email: field(signinForm, "email"), password: field(signinForm, "password") }))
        .signedIn;
      signinForm.reset();
      await refresh();
      if (leaveIfReturning()) return;
      say(`Signed in as ${signedIn?.user?.email ?? "you"}.`);
      void offerPasskeyUpgrade();
    });
  });

  const passkeySignin = $<HTMLButtonElement>("passkey-signin");
  passkeySignin.addEventListener("click", () =>
    busy(passkeySignin, async () => {
      await abortBackground();
      const email = field(signinForm, "email").trim();
      const result = await signInWithPasskey(client, email ? { email } : {});
      if (result) await afterPasskeySignIn(result);
    }),
  );

  const signupForm = $<HTMLFormElement>("signup-form");
  signupForm.addEventListener("submit", (event) => {
    event.preventDefault();
    void busy(signupForm.querySelector("button[type=submit]"), async () => {
      await abortBackground();
      const email = field(signupForm, "email").trim();
      const response = await client.auth.register({
        email,
        password: field(signupForm, "password"),
        name: field(signupForm, "name"),
      });
      signupForm.reset();
      if (!response.signedIn) {
        // Under require_email_verification nobody is signed in until the mail proves the address,
        // and the words are the same whether or not it already had an account.
        say(`Check your inbox at ${email}: the mail we sent says how to continue.`);
        return;
      }
      await refresh();
      if (leaveIfReturning()) return;
      say(`Welcome! Your account ${response.signedIn?.user?.email ?? ""} is ready.`);
    });
  });

  const passkeySignup = $<HTMLButtonElement>("passkey-signup");
  passkeySignup.addEventListener("click", () =>
    busy(passkeySignup, async () => {
      await abortBackground();
      const email = field(signupForm, "email");
      const { requireEmailVerification } = await pageConfig();
      // Under require_email_verification StartPasskeySignUp mails a code (or, for an address
      // with an account, a note): the page asks for it before the authenticator runs.
      const code = requireEmailVerification ? () => signUpCode(email.trim()) : undefined;
      const result = await signUpWithPasskey(client, { email, name: field(signupForm, "name"), code });
      rememberRpId(result);
      signupForm.reset();
      await refresh();
      if (leaveIfReturning()) return;
      say(`Welcome! Your account ${result.signedIn.user?.email ?? ""} is ready, with a passkey and no password.`);
    }),
  );

  const addPasskey = $<HTMLButtonElement>("add-passkey");
  addPasskey.addEventListener("click", () =>
    busy(addPasskey, async () => {
      await abortBackground();
      const result = await withReauthentication(client, () => registerPasskey(client), promptForReauthentication);
      if (!result) return;
      rememberRpId(result);
      say(`Passkey “${result.passkey.name}” added.`);
      await loadPasskeys();
    }),
  );

  const profileForm = $<HTMLFormElement>("profile-form");
  profileForm.addEventListener("submit", (event) => {
    event.preventDefault();
    void busy($<HTMLButtonElement>("profile-save"), async () => {
      if (!current?.user) return;
      // Renaming the user also updates the name passkey managers show (Signal API).
      const { user } = await updateUserName(client, $<HTMLInputElement>("profile-name").value, webAuthnUser(current.user.id));
      await refresh();
      say(user.name ? `Name saved: ${user.name}.` : "Name cleared.");
    });
  });

  const signout = $<HTMLButtonElement>("signout");
  signout.addEventListener("click", () =>
    busy(signout, async () => {
      await abortBackground();
      await client.auth.logout({});
      current = undefined;
      say("Signed out.");
      showSignedOut();
    }),
  );
}

/**
 * Conditional create right after a password sign-in: the browser may offer to add a passkey
 * without a dialog. Silent when the browser has no such thing or the user ignores it.
 */
async function offerPasskeyUpgrade() {
  if (!webauthnAvailable()) return;
  await runInBackground(async (signal) => {
    try {
      const result = await registerPasskey(client, { mediation: "conditional", signal });
      if (!result || !current?.user) return;
      rememberRpId(result);
      say(`Your browser added a passkey (“${result.passkey.name}”): next time, sign in without a password.`);
      await loadPasskeys();
    } catch {
      // Conditional create fails quietly by design (no passkey provider, declined, aborted,
      // a server without PasskeyService).
    }
  });
}

/** Back from a provider: finish the sign-in, then drop `code` and `state` from the address bar. */
async function finishProviderCallback() {
  const url = new URL(location.href);
  if (!providerCallbackParams(url)) return;
  history.replaceState(null, "", url.pathname);
  try {
    const result = await finishProviderSignIn(client, url);
    const provider = result?.account?.provider ?? "the provider";
    await refresh();
    if (leaveIfReturning()) return;
    say(result?.userCreated ? `Welcome! Your account was created with ${provider}.` : `Signed in with ${provider}.`);
  } catch (error) {
    fail(error);
  }
}

/** What email.ts needs of this page. */
const emailPage: EmailPage = { client, refresh, leaveIfReturning, user: () => current?.user };

async function start() {
  bind();
  await loadReturnTo().catch(fail);
  await finishProviderCallback();
  await finishMailedLink(emailPage, takeMailedLink(new URL(location.href)));
  await refresh();
  // Already signed in (another tab, an earlier visit): straight back to the app.
  leaveIfReturning();
}

void start();
void loadProviders().catch(fail);
