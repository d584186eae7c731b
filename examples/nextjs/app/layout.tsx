// The root layout hands the SessionProvider the session the server reads, as a promise it does
// not await: with Cache Components (next.config.ts) the layout stays a static shell, the navbar's
// fallback is part of it, and the navbar streams in already right (no signed-out flash) while
// useSession() keeps it current afterwards.
import { getSession } from "@keyward/client/server";
import { SessionProvider } from "@keyward/client/react";
import type { Metadata } from "next";
import { headers } from "next/headers";
import { type ReactNode, Suspense } from "react";
import { Navbar, NavbarFallback } from "./navbar";
import "./globals.css";

export const metadata: Metadata = { title: "Keyward + Next.js" };

export default function RootLayout({ children }: { children: ReactNode }) {
  const session = headers().then((incoming) => getSession({ headers: incoming }));
  return (
    <html lang="en">
      <body>
        <SessionProvider session={session} refetchInterval={300}>
          <Suspense fallback={<NavbarFallback />}>
            <Navbar />
          </Suspense>
          <main>{children}</main>
        </SessionProvider>
      </body>
    </html>
  );
}
