// Next.js 16's proxy (formerly middleware), on every page (not on /keyward/*, the API, nor
// Next's own assets):
// - mid-switch from Auth.js, a browser that still holds an Auth.js session cookie of a session
//   `keyward import authjs` brought over has it moved into Keyward's cookie, once, so it stays
//   signed in (and useSession sees it from then on);
// - a signed-out visit to /dashboard goes to the sign-in page, which brings the user back
//   afterwards. getSession asks Keyward (the authoritative check, so a revoked session is refused
//   at once) with the cookie's value as a bearer token.
import { adoptAuthjsSession, getSession } from "@keyward/client/server";
import { type NextRequest, NextResponse } from "next/server";

export async function proxy(request: NextRequest) {
  const adopted = await adoptAuthjsSession({ headers: request.headers });
  const protectedPage = request.nextUrl.pathname.startsWith("/dashboard");
  let response: NextResponse;
  if (!protectedPage || adopted || (await getSession({ headers: request.headers }))) {
    response = NextResponse.next();
  } else {
    const signin = new URL("/signin", request.url);
    signin.searchParams.set("return_to", request.nextUrl.pathname + request.nextUrl.search);
    response = NextResponse.redirect(signin);
  }
  for (const cookie of adopted?.cookies ?? []) response.cookies.set(cookie);
  return response;
}

export const config = { matcher: ["/((?!keyward/|_next/|favicon.ico).*)"] };
