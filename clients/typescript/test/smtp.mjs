// A small SMTP receiver for the browser tests (RFC 5321's core, no TLS, no AUTH): Keyward's
// real SMTP transport delivers to it over TCP, and tests wait for mail to arrive, not for time.
import { createServer } from "node:net";

/** Undoes quoted-printable (soft line breaks and =XX), enough to read links out of a mail. */
export function decodeQuotedPrintable(text) {
  const joined = text.replace(/=\r?\n/g, "");
  const bytes = [];
  for (let i = 0; i < joined.length; i += 1) {
    if (joined[i] === "=" && /^[0-9A-F]{2}$/i.test(joined.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(joined.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(joined[i]));
    }
  }
  return Buffer.from(bytes).toString("utf8");
}

export async function startSmtp() {
  const mails = [];
  const waiters = [];
  const server = createServer((socket) => {
    let buffer = "";
    let inData = false;
    let data = "";
    let to = [];
    socket.write("220 keyward-test ESMTP\r\n");
    socket.on("data", (chunk) => {
      buffer += chunk.toString("utf8");
      let end;
      while ((end = buffer.indexOf("\r\n")) !== -1) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (inData) {
          if (line === ".") {
            inData = false;
            mails.push({ to, data, text: decodeQuotedPrintable(data) });
            to = [];
            data = "";
            for (const waiter of waiters.splice(0)) waiter();
            socket.write("250 queued\r\n");
          } else {
            data += `${line.startsWith(".") ? line.slice(1) : line}\r\n`;
          }
          continue;
        }
        const verb = line.split(" ")[0].toUpperCase();
        if (verb === "EHLO") socket.write("250-keyward-test\r\n250 8BITMIME\r\n");
        else if (verb === "RCPT") {
          to.push(/<([^>]*)>/.exec(line)?.[1] ?? "");
          socket.write("250 ok\r\n");
        } else if (verb === "DATA") {
          inData = true;
          socket.write("354 end with <CRLF>.<CRLF>\r\n");
        } else if (verb === "QUIT") socket.end("221 bye\r\n");
        else if (["HELO", "MAIL", "RSET", "NOOP"].includes(verb)) socket.write("250 ok\r\n");
        else socket.write("502 not implemented\r\n");
      }
    });
    socket.on("error", () => {});
  });
  await new Promise((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address();
  return {
    url: `smtp://127.0.0.1:${port}?tls=none`,
    mails,
    /** Resolves with the first mail to `address` that matches `pattern` (the `nth`, from 0). */
    async waitFor(address, pattern, nth = 0) {
      for (;;) {
        const found = mails.filter((mail) => mail.to.includes(address) && pattern.test(mail.text))[nth];
        if (found) return found;
        await new Promise((wake) => waiters.push(wake));
      }
    },
    close: () => new Promise((done) => server.close(done)),
  };
}
