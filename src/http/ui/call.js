import { api, el, fmtTime, showError, token, askToken } from './ui.js';

const callId = decodeURIComponent(location.pathname.split('/').pop());
document.getElementById('callId').textContent = callId;
document.getElementById('print').addEventListener('click', (e) => {
  e.preventDefault();
  window.print();
});

const DECISIONS = new Set(['RingTimeoutReached', 'ByeSent', 'CallEnded']);
const json = (v) => JSON.stringify(v);

function details(type, d) {
  switch (type) {
    case 'CallOffered': return `${d.direction} ${d.from} → ${d.to}, bot ${d.botId}${d.ringTimeoutMs ? `, ring timeout ${d.ringTimeoutMs} ms` : ''}${d.statusCallback ? `, status callback ${d.statusCallback.url.split('?')[0]}` : ''}`;
    case 'CallAnswered': return `SIP ${d.sipStatus}`;
    case 'OutboundCallFailed': return `SIP ${d.sipStatus} → ${d.reasonCode} (${d.reason})`;
    case 'RingTimeoutReached': return `no answer in ${d.ringTimeoutMs} ms → CANCEL`;
    case 'BotConversationStarted': return `${d.provider}, conversation ${d.conversationId}`;
    case 'BotStartFailed': return `${d.provider}: ${d.code} ${d.message}`;
    case 'SessionParamsUpdated': return `from ${d.source}: ${json(d.params)}`;
    case 'BotHangupRequested': return `reason ${json(d.hangupReason ?? null)}, ${d.hangupSipHeaders.length} header(s)${d.hangupSipHeaders.map((h) => ` ${h.name}: ${h.value}`).join(';')}, delay ${d.delayMs} ms (deadline ${fmtTime(d.deadline)})`;
    case 'OperatorHangupRequested': return `by ${d.operator}: ${json(d.reason)}`;
    case 'BotInputRejected': return `${d.field}: ${d.reason}${d.excerpt ? ` (${d.excerpt})` : ''}`;
    case 'SttFinalReceived': return `${json(d.text)}${d.confidence !== undefined ? ` (confidence ${d.confidence})` : ''}`;
    case 'ByeSent': return `Reason: ${d.reasonHeader ?? '(none)'}${d.headers.map((h) => ` | ${h.name}: ${h.value}`).join('')} — trigger ${d.trigger}${d.sttWaitMs ? `, waited ${d.sttWaitMs} ms for STT` : ''}${d.error ? `, NOT SENT: ${d.error}` : ''}`;
    case 'ByeReceived': return d.reasonHeader ? `Reason: ${d.reasonHeader}` : 'no Reason header';
    case 'CallErrored': return `${d.code}: ${d.message}`;
    case 'CallEnded': return `${d.reasonCode} (${d.reason}) by ${d.terminatedBy}, ${d.durationMs} ms from answer${d.sipStatus ? `, SIP ${d.sipStatus}` : ''}`;
    case 'BotNotified': return `${d.provider} attempt ${d.attempt}: ${d.outcome} — told ${d.reasonCode} (${d.reason})${d.error ? `; ${d.error}` : ''}`;
    case 'StatusWebhookAttempted': return `${d.status} → ${d.url} attempt ${d.attempt}: ${d.outcome}${d.httpStatus ? ` (HTTP ${d.httpStatus})` : ''}${d.error ? ` ${d.error}` : ''}, ${d.durationMs} ms`;
    default: return Object.keys(d ?? {}).length ? json(d) : '';
  }
}

/** One ladder row per message: [from lane, to lane, label, style]; lane 1 alone is a note on voxledger. */
function ladderRows(items, direction) {
  const P = 0, V = 1, B = 2;
  const out = [];
  for (const { type, d, at } of items) {
    const row = (from, to, label, cls = '') => out.push([from, to, label, cls, at]);
    switch (type) {
      case 'CallOffered': direction === 'inbound' ? row(P, V, 'INVITE') : row(V, P, `INVITE ${d.to}`); break;
      case 'CallAnswered': direction === 'inbound' ? row(V, P, `${d.sipStatus} OK`) : row(P, V, `${d.sipStatus} OK`); break;
      case 'CallRinging': row(P, V, `${d.sipStatus} Ringing`); break;
      case 'OutboundCallFailed': row(P, V, `${d.sipStatus || 'no answer'} → ${d.reasonCode}`, 'fail'); break;
      case 'RingTimeoutReached': row(V, P, 'CANCEL (ring timeout)'); break;
      case 'CancelReceived': row(P, V, 'CANCEL'); break;
      case 'BotConversationStarted': row(V, B, `start (${d.provider})`, 'bot'); break;
      case 'BotStartFailed': row(B, V, `start failed: ${d.code}`, 'fail'); break;
      case 'SessionParamsUpdated': if (d.source === 'bot') row(B, V, `sessionParams ${Object.keys(d.params).join(', ')}`, 'bot'); break;
      case 'BotHangupRequested': row(B, V, `hangup ${d.hangupReason ? `"${d.hangupReason}"` : ''} delay ${d.delayMs} ms`, 'bot'); break;
      case 'OperatorHangupRequested': row(V, V, `operator hangup by ${d.operator}`); break;
      case 'SttStarted': row(P, V, 'speech…'); break;
      case 'SttFinalReceived': row(P, V, `"${d.text}"`); break;
      case 'ByeSent': row(V, P, `BYE ${d.reasonHeader ?? ''}${d.headers.length ? ` +${d.headers.map((h) => h.name).join(', ')}` : ''}${d.sttWaitMs ? ` (after ${d.sttWaitMs} ms STT wait)` : ''}`, d.error ? 'fail' : ''); break;
      case 'ByeReceived': row(P, V, `BYE ${d.reasonHeader ?? ''}`); break;
      case 'CallErrored': row(V, V, `error ${d.code}`, 'fail'); break;
      case 'CallEnded': row(V, V, `ended: ${d.reasonCode} by ${d.terminatedBy}`); break;
      case 'BotNotified': row(V, B, `end notice #${d.attempt}: ${d.outcome}`, d.outcome === 'failed' ? 'fail' : 'bot'); break;
      default: break;
    }
  }
  return out;
}

function drawLadder(rows, direction, t0) {
  const NS = 'http://www.w3.org/2000/svg';
  const svg = (tag, attrs, text) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const X = [120, 470, 820];
  const W = 940;
  const top = 40;
  const step = 34;
  const H = top + rows.length * step + 20;
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'SIP ladder' });
  const defs = svg('defs', {});
  const marker = svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' });
  marker.append(svg('path', { d: 'M 0 0 L 10 5 L 0 10 z' }));
  defs.append(marker);
  root.append(defs);
  [direction === 'outbound' ? 'callee (SIP peer)' : 'caller (SIP peer)', 'voxledger', 'bot'].forEach((name, i) => {
    root.append(svg('text', { x: X[i], y: 20, 'text-anchor': 'middle', class: 'head' }, name));
    root.append(svg('line', { x1: X[i], y1: 28, x2: X[i], y2: H - 8, class: 'lane' }));
  });
  rows.forEach(([from, to, label, cls, at], i) => {
    const y = top + i * step + 14;
    root.append(svg('text', { x: 4, y: y + 4, class: 't' }, `+${((Date.parse(at) - t0) / 1000).toFixed(3)}s`));
    if (from === to) {
      root.append(svg('text', { x: X[from] + 8, y: y + 4, class: cls }, `◆ ${label.length > 58 ? label.slice(0, 57) + '…' : label}`));
      return;
    }
    root.append(svg('line', { x1: X[from], y1: y, x2: X[to], y2: y, class: `msg ${cls}`, 'marker-end': 'url(#arrow)' }));
    root.append(svg('text', { x: (X[from] + X[to]) / 2, y: y - 5, 'text-anchor': 'middle' }, label.length > 58 ? label.slice(0, 57) + '…' : label));
  });
  document.getElementById('ladder').replaceChildren(root);
}

async function allEvents() {
  const out = [];
  let from = 0;
  for (;;) {
    const p = await api(`/v1/calls/${encodeURIComponent(callId)}/events?fromRevision=${from}&limit=1000`);
    out.push(...p.events);
    if (p.nextRevision === undefined) return out;
    from = p.nextRevision;
  }
}

async function load() {
  try {
    const [detail, events, verify] = await Promise.all([api(`/v1/calls/${encodeURIComponent(callId)}`), allEvents(), api(`/v1/calls/${encodeURIComponent(callId)}/verify`)]);
    const c = detail.cdr;
    const badge = document.getElementById('verify');
    badge.className = `badge ${verify.ok ? 'ok' : 'bad'}`;
    badge.textContent = verify.ok ? `verify: OK — ${verify.decisions} decisions re-derived` : `verify: ${verify.differences.length} difference(s)`;
    document.getElementById('differences').replaceChildren(...verify.differences.map((d) => el('li', {}, [`[${d.index >= 0 ? `#${d.index}` : 'end'}] ${d.kind}: ${d.message}`])));
    const facts = [
      ['state', detail.state], ['direction', c.direction], ['caller', c.from], ['callee', c.to], ['bot', c.botId], ['SIP Call-ID', c.sipCallId],
      ['started', fmtTime(c.offeredAt)], ['answered', fmtTime(c.answeredAt)], ['ended', fmtTime(c.endedAt)],
      ['duration', c.durationMs !== undefined ? `${c.durationMs} ms` : ''], ['reasonCode', c.reasonCode], ['reason', c.reason], ['terminated by', c.terminatedBy],
      ['SIP status', c.sipStatus], ['BYE Reason', c.byeReasonHeader], ['BYE headers', (c.hangupSipHeaders ?? []).map((h) => `${h.name}: ${h.value}`).join('; ')],
      ['caller\'s Reason', c.peerReasonHeader], ['STT wait', c.sttWaitMs !== undefined ? `${c.sttWaitMs} ms` : ''], ['botOperationResult', detail.botOperationResult],
      ['botOperationData', detail.botOperationData === null ? '' : JSON.stringify(detail.botOperationData)], ['bot told', c.botNotified ? `${c.botNotified} (${c.botNotifyAttempts} attempt(s))` : ''],
      ['rejected bot inputs', c.rejectedBotInputs],
    ].filter(([, v]) => v !== undefined && v !== null && v !== '');
    document.getElementById('facts').replaceChildren(...facts.map(([k, v]) => el('div', {}, [el('span', {}, [k]), el('span', { class: 'mono' }, [String(v)])])));

    const items = [
      ...events.map((e) => ({ type: e.type, d: e.data, at: e.at, kind: DECISIONS.has(e.type) ? 'decision' : 'input', rev: e.revision })),
      ...detail.botNotifications.map((n) => ({ type: 'BotNotified', d: n, at: n.at, kind: 'delivery' })),
      ...detail.webhookDeliveries.map((w) => ({ type: w.type, d: w, at: w.at, kind: 'delivery' })),
    ].sort((a, b) => Date.parse(a.at) - Date.parse(b.at) || (a.kind === 'delivery') - (b.kind === 'delivery'));
    const t0 = Date.parse(items[0]?.at ?? new Date().toISOString());
    document.querySelector('#timeline tbody').replaceChildren(...items.map((it) => el('tr', { class: it.kind }, [
      el('td', { class: 'mono' }, [fmtTime(it.at)]),
      el('td', { class: 'mono' }, [`+${((Date.parse(it.at) - t0) / 1000).toFixed(3)}`]),
      el('td', {}, [it.type, el('div', { class: 'kind' }, [it.kind + (it.rev !== undefined ? ` #${it.rev}` : '')])]),
      el('td', { class: 'mono' }, [details(it.type, it.d)]),
    ])));
    drawLadder(ladderRows(items.filter((i) => i.type !== 'StatusWebhookAttempted'), c.direction), c.direction, t0);
    document.title = `voxledger · call ${callId}`;
    document.body.dataset.loaded = 'true';
  } catch (err) {
    showError(err, load);
  }
}

if (token()) void load();
else askToken(load);
