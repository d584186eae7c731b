// The root layout reads the session on the server and hands it to the SessionProvider: the
// navbar's first paint is already right (no signed-out flash), and useSession() keeps it current.
import { getSession } from "@keyward/client/server";
import { SessionProvider } from "@keyward/client/react";
import type { Metadata } from "next";
import { headers } from "next/headers";
import type { ReactNode } from "react";
import { Navbar } from "./navbar";
import "./globals.css";

export const metadata: Metadata = { title: "Keyward + Next.js" };

export default async function RootLayout({ children }: { children: ReactNode }) {
  const session = await getSession({ headers: await headers() });
  return (
    <html lang="en">
      <body>
        <SessionProvider session={session} refetchInterval={300}>
          <Navbar />
          <main>{children}</main>
        </SessionProvider>
      </body>
    </html>
  );
}
