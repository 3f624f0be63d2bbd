/** Which INVITE headers a call keeps on CallOffered (and passes to its bot at start). */
const KEPT_HEADERS = /^(x-|user-agent$|p-asserted-identity$|diversion$)/i;

/** The INVITE headers worth keeping on CallOffered (custom X- headers and identity), capped. */
export function pickHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  let n = 0;
  for (const [k, v] of Object.entries(headers)) {
    if (!KEPT_HEADERS.test(k) || n >= 32) continue;
    out[k] = String(v).slice(0, 1024);
    n++;
  }
  return out;
}
