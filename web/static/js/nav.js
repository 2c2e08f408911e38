// Where to go after login: ?next= only when it resolves to a path on this very site.

export function safeNext(next, origin) {
  if (typeof next !== "string" || !next.startsWith("/")) return null;
  // Browsers drop tabs and newlines from URLs ("/\t/evil" becomes "//evil") and read "\" as
  // "/": refuse such input outright rather than guess how it will be read.
  if (/[\u0000-\u001f\u007f\\]/.test(next)) return null;
  let url;
  try {
    url = new URL(next, origin);
  } catch {
    return null;
  }
  if (url.origin !== new URL(origin).origin) return null;
  return url.pathname + url.search + url.hash;
}
