// Where to send the user after signing in: only a path on this app (an allow-list of one
// origin), never another site: an open redirect hands phishers a trusted link (OWASP
// Unvalidated Redirects and Forwards Cheat Sheet).

export function safeReturnTo(value: unknown, fallback = "/dashboard"): string {
  if (typeof value !== "string" || !value.startsWith("/") || value.startsWith("//") || value.includes("\\")) {
    return fallback;
  }
  // Resolve against a placeholder origin: anything that leaves it (e.g. "/\t/evil.example") is refused.
  const url = new URL(value, "http://app.invalid");
  return url.origin === "http://app.invalid" ? url.pathname + url.search + url.hash : fallback;
}
