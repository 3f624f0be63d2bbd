/** `voxledger replay`: a call's history as a readable timeline. */
import type { DomainEvent } from '../domain/events.ts';
import { iso } from '../domain/clock.ts';

function summary(e: DomainEvent): string {
  const d = e.data as Record<string, unknown>;
  switch (e.type) {
    case 'CallOffered':
      return `${e.data.direction} ${e.data.from} → ${e.data.to} (bot ${e.data.botId}${e.data.ringTimeoutMs ? `, ring ${e.data.ringTimeoutMs} ms` : ''}${e.data.answer ? `, answer ${e.data.answer}` : ''})`;
    case 'CallAnswered':
      return `SIP ${e.data.sipStatus}`;
    case 'OutboundCallFailed':
      return `SIP ${e.data.sipStatus} → ${e.data.reasonCode} (${e.data.reason})`;
    case 'BotConversationStarted':
      return `${e.data.provider} conversation ${e.data.conversationId}`;
    case 'BotStartFailed':
      return `${e.data.provider}: ${e.data.code} ${e.data.message}${e.data.sipStatus ? ` (INVITE refused ${e.data.sipStatus})` : ''}`;
    case 'SessionParamsUpdated':
      return `${e.data.source}: ${JSON.stringify(e.data.params)}`;
    case 'BotHangupRequested':
      return `reason ${JSON.stringify(e.data.hangupReason ?? null)}, ${e.data.hangupSipHeaders.length} header(s), delay ${e.data.delayMs} ms (deadline ${e.data.deadline}${e.data.playbackDeadline ? `, goodbye until ${e.data.playbackDeadline}` : ''})`;
    case 'BotInputRejected':
      return `${e.data.field}: ${e.data.reason}${e.data.excerpt ? ` [${e.data.excerpt}]` : ''}`;
    case 'MediaNegotiated':
      return `${e.data.engine} ${e.data.codec}/${e.data.payloadType}${e.data.dtmfPayloadType !== undefined ? ` +DTMF/${e.data.dtmfPayloadType}` : ''} ${e.data.local.address}:${e.data.local.port} ⇄ ${e.data.remote.address}:${e.data.remote.port} ${e.data.direction}${e.data.onHold ? ' (on hold)' : ''} (${e.data.trigger})`;
    case 'CallErrored':
      return `${e.data.code}: ${e.data.message}${e.data.sipStatus ? ` (SIP ${e.data.sipStatus})` : ''}`;
    case 'SttFinalReceived':
      return `${JSON.stringify(e.data.text)}${e.data.confidence !== undefined ? ` (confidence ${e.data.confidence})` : ''}`;
    case 'SttFailed':
      return `${e.data.code}: ${e.data.message} (the call goes on without recognition)`;
    case 'PlaybackStarted':
      return `${e.data.playbackId}: ${JSON.stringify(e.data.text.length > 80 ? `${e.data.text.slice(0, 80)}…` : e.data.text)}`;
    case 'PlaybackFinished':
      return `${e.data.playbackId}: ${e.data.outcome}${e.data.error ? ` (${e.data.error})` : ''}`;
    case 'DtmfReceived':
      return `digit ${e.data.digit} (${e.data.durationMs} ms)`;
    case 'ByeSent':
      return `Reason: ${e.data.reasonHeader ?? '(none)'}${e.data.headers.map((h) => `; ${h.name}: ${h.value}`).join('')} (${e.data.trigger}${e.data.sttWaitMs ? `, waited ${e.data.sttWaitMs} ms for STT` : ''})`;
    case 'TransferRequested':
      return `to ${e.data.target}${e.data.referredBy ? ` (Referred-By ${e.data.referredBy})` : ''}, ${e.data.headers.length} header(s), deadline ${e.data.deadline}`;
    case 'ReferSent':
      return `Refer-To: <${e.data.target}>${e.data.headers.map((h) => `; ${h.name}: ${h.value}`).join('')}${e.data.error ? ` (not sent: ${e.data.error})` : ''}`;
    case 'TransferProgressed':
      return `${e.data.source} SIP ${e.data.sipStatus}${e.data.reason ? ` ${e.data.reason}` : ''}`;
    case 'AmdObserved':
      return `${e.data.endedBy}: greeting ${e.data.greetingMs} ms after ${e.data.initialSilenceMs} ms, then ${e.data.silenceAfterMs} ms of silence`;
    case 'AmdBeepDetected':
      return `${e.data.freqHz} Hz at ${e.data.atMs} ms (${e.data.durationMs} ms)`;
    case 'AmdVerdictReached':
      return `${e.data.result} (${e.data.reason}), ${e.data.words} word(s), policy ${e.data.policy} → ${e.data.action}`;
    case 'TransferFailed':
      return `${e.data.cause}: SIP ${e.data.sipStatus} → ${e.data.reasonCode} (${e.data.reason})`;
    case 'ByeReceived':
      return e.data.reasonHeader ? `Reason: ${e.data.reasonHeader}` : '';
    case 'CallEnded':
      return `${e.data.reasonCode} (${e.data.reason}) by ${e.data.terminatedBy}, ${e.data.durationMs} ms talk${e.data.sipStatus ? `, SIP ${e.data.sipStatus}` : ''}`;
    case 'BotNotified':
      return `${e.data.provider} attempt ${e.data.attempt}: ${e.data.outcome}${e.data.error ? ` (${e.data.error})` : ''}`;
    default:
      return Object.keys(d).length ? JSON.stringify(d) : '';
  }
}

export function formatTimeline(events: DomainEvent[], revisions?: number[]): string {
  if (!events.length) return '';
  const t0 = events[0]!.at;
  return events
    .map((e, i) => {
      const rel = `+${((e.at - t0) / 1000).toFixed(3)}s`.padStart(10);
      const rev = revisions ? `#${revisions[i]}`.padStart(4) + ' ' : '';
      return `${rev}${iso(e.at)} ${rel}  ${e.type.padEnd(22)} ${summary(e)}`;
    })
    .join('\n');
}
