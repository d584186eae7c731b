// The session as JSON for any client of this app, like Auth.js's /api/auth/session: a route
// handler reading it with the same one line. (@keyward/client/server needs only fetch, so this
// also runs on the Edge runtime; Next.js 16.4 deprecates that runtime, so the example stays on Node.)
import { getSession } from "@keyward/client/server";

export async function GET(request: Request) {
  return Response.json(await getSession({ headers: request.headers }), { headers: { "cache-control": "no-store" } });
}
