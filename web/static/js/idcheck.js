// Client-side GB 11643-1999 check of a Chinese resident ID number, mirroring
// inspection/idnumber.py so that the form catches typos before the server refuses them.

const CHECK_CHARS = "10X98765432";
const WEIGHTS = Array.from({ length: 17 }, (_, i) => 2 ** (17 - i) % 11);

/** Null when valid, else the reason key: "length", "format", "date" or "check". */
export function idNumberProblem(raw) {
  const id = raw.replace(/\s+/g, "").toUpperCase();
  if (id.length !== 18) return "length";
  if (!/^\d{17}[\dX]$/.test(id)) return "format";
  const y = Number(id.slice(6, 10));
  const m = Number(id.slice(10, 12));
  const d = Number(id.slice(12, 14));
  const birth = new Date(Date.UTC(y, m - 1, d));
  const valid =
    birth.getUTCFullYear() === y && birth.getUTCMonth() === m - 1 && birth.getUTCDate() === d;
  if (!valid || y < 1900 || birth.getTime() > Date.now()) return "date";
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(id[i]) * WEIGHTS[i];
  return CHECK_CHARS[sum % 11] === id[17] ? null : "check";
}
