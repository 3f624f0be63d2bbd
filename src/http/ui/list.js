import { api, el, fmtTime, showError, token, askToken } from './ui.js';

const form = document.getElementById('filters');
const tbody = document.querySelector('#calls tbody');
const more = document.getElementById('more');
let next;
let shown = 0;

function query(before) {
  const q = new URLSearchParams();
  for (const [k, v] of new FormData(form)) {
    if (!v) continue;
    q.set(k, k === 'from' || k === 'to' ? new Date(v).toISOString() : v);
  }
  q.set('limit', '50');
  if (before) q.set('before', before);
  return q;
}

async function load(append) {
  try {
    const r = await api(`/v1/calls?${query(append ? next : undefined)}`);
    if (!append) {
      tbody.replaceChildren();
      shown = 0;
    }
    for (const c of r.calls) {
      tbody.append(el('tr', {}, [
        el('td', { class: 'mono' }, [el('a', { href: `/ui/calls/${encodeURIComponent(c.callId)}` }, [fmtTime(c.startedAt)])]),
        el('td', {}, [c.state]), el('td', {}, [c.direction]), el('td', { class: 'mono' }, [c.from]), el('td', { class: 'mono' }, [c.to]),
        el('td', {}, [c.botId]), el('td', {}, [c.reasonCode ?? '']), el('td', {}, [c.terminatedBy ?? '']),
        el('td', {}, [c.durationMs !== undefined ? `${(c.durationMs / 1000).toFixed(1)} s` : '']), el('td', {}, [c.botOperationResult ?? '']),
      ]));
    }
    shown += r.calls.length;
    next = r.next;
    more.hidden = !next;
    document.getElementById('count').textContent = `${shown} call(s)${next ? ', more below' : ''}`;
    document.getElementById('error').textContent = '';
  } catch (err) {
    showError(err, () => load(false));
  }
}

form.addEventListener('submit', (e) => {
  e.preventDefault();
  void load(false);
});
more.addEventListener('click', () => void load(true));
if (token()) void load(false);
else askToken(() => load(false));
