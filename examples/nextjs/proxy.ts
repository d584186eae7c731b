// Next.js 16's proxy (formerly middleware): a signed-out visit to /dashboard goes to the sign-in
// page, which brings the user back here afterwards. getSession asks Keyward (the authoritative
// check, so a revoked session is refused at once) with the cookie's value as a bearer token.
import { getSession } from "@keyward/client/server";
import { type NextRequest, NextResponse } from "next/server";

export async function proxy(request: NextRequest) {
  if (await getSession({ headers: request.headers })) return NextResponse.next();
  const signin = new URL("/signin", request.url);
  signin.searchParams.set("return_to", request.nextUrl.pathname + request.nextUrl.search);
  return NextResponse.redirect(signin);
}

export const config = { matcher: ["/dashboard/:path*"] };
