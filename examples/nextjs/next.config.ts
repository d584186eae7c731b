// Keyward is reached through this app's own origin: the browser calls /keyward/…, Next.js
// forwards it to Keyward. The session cookie is then first-party (no third-party cookie rules,
// no CORS preflight), and Keyward stays off the public internet if you like.
//
// KEYWARD_URL is where this server reaches Keyward. Rewrites are fixed at `next build`, so set it
// for the build (and for `next start`, where the server helpers read it too).
import type { NextConfig } from "next";

const keyward = (process.env.KEYWARD_URL ?? "http://127.0.0.1:50051").replace(/\/+$/, "");

const config: NextConfig = {
  poweredByHeader: false,
  // A fresh create-next-app 16 turns this on: the layout must not read the request outside a
  // <Suspense> (see app/layout.tsx).
  cacheComponents: true,
  async rewrites() {
    return [{ source: "/keyward/:path*", destination: `${keyward}/:path*` }];
  },
};

export default config;
