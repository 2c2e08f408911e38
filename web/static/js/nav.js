// Where to go after login: ?next= only when it is a path on this site.

export function safeNext(next, _origin) {
  // Only local paths: "//evil.example" or "/\evil" would leave the site.
  return /^\/(?![/\\])/.test(next) ? next : null;
}
