/**
 * The SIP trace (`sip.trace`): every message the embedded adapter sends or receives, logged at
 * `info` as one structured line, `msg: "sip trace"`, with `dir` (`in`/`out`), `transport`, `peer`
 * (address:port), `sipCallId`, `bytes` and `message` (the text, capped at TRACE_MAX_CHARS). For
 * debugging: it logs whole messages, any Authorization header included.
 */
export const TRACE_MAX_CHARS = 16_384;

const CALL_ID = /^(?:call-id|i)[ \t]*:[ \t]*([^\r\n]*)/im;

export function traceFields(dir: 'in' | 'out', peer: { transport: string; address: string; port: number }, data: Buffer): Record<string, unknown> {
  const text = data.toString('utf8', 0, Math.min(data.length, TRACE_MAX_CHARS));
  const sipCallId = CALL_ID.exec(text)?.[1]?.trim().slice(0, 256);
  return {
    dir,
    transport: peer.transport,
    peer: `${peer.address}:${peer.port}`,
    ...(sipCallId ? { sipCallId } : {}),
    bytes: data.length,
    message: data.length > TRACE_MAX_CHARS ? `${text}…` : text,
  };
}
