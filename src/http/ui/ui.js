// Shared by the auditor's pages: the token (from the URL fragment `#token=…`, kept in this tab's
// sessionStorage, never sent anywhere but the API's Authorization header), API calls, and DOM
// building through textContent only (event data is never parsed as HTML).
export function token() {
  const m = /(?:^|[#&])token=([^&]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem('voxledger-token', decodeURIComponent(m[1]));
    history.replaceState(null, '', location.pathname + location.search);
  }
  return sessionStorage.getItem('voxledger-token');
}

export function askToken(onDone) {
  const form = el('form', { id: 'token-form' }, [
    el('label', {}, ['Bearer token ', el('input', { type: 'password', name: 'token', autocomplete: 'off', size: 40 })]),
    ' ', el('button', { type: 'submit' }, ['Open']),
  ]);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    sessionStorage.setItem('voxledger-token', form.elements.token.value.trim());
    form.remove();
    onDone();
  });
  document.querySelector('main').prepend(form);
}

export async function api(path) {
  const r = await fetch(path, { headers: { authorization: `Bearer ${token()}` } });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) {
    const err = new Error(`${r.status} ${body.error?.code ?? ''}: ${body.error?.message ?? r.statusText}`);
    err.status = r.status;
    throw err;
  }
  return body;
}

/** el('td', {class: 'x'}, ['text', child]) — strings become text nodes. */
export function el(tag, attrs = {}, children = []) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) e.setAttribute(k, String(v));
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c ?? '')));
  return e;
}

export function showError(err, retry) {
  const box = document.getElementById('error');
  box.textContent = String(err.message ?? err);
  if (err.status === 401 && retry) askToken(retry);
}

export function fmtTime(iso) {
  return iso ? iso.replace('T', ' ').replace('Z', '') : '';
}
