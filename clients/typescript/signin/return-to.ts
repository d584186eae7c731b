// Where the sign-in page may send the user once they are signed in: `?return_to=` pointing at
// this page's own origin or at one of the origins the server lists (its CORS origins and passkey
// origins, from /signin/config.json). Anything else is ignored, so the page can never be used as
// an open redirect (OWASP Unvalidated Redirects and Forwards Cheat Sheet): origins are compared
// exactly after the browser's own URL parsing, so "//evil.example", "/\evil.example",
// "https://app.example.com.evil.example" and "javascript:" URLs all fail.

export function allowedReturnTo(value: string | null, pageOrigin: string, allowedOrigins: readonly string[]): URL | undefined {
  if (!value) return undefined;
  let url: URL;
  try {
    url = new URL(value, pageOrigin);
  } catch {
    return undefined;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return undefined;
  if (url.username || url.password) return undefined;
  return url.origin === pageOrigin || allowedOrigins.includes(url.origin) ? url : undefined;
}
