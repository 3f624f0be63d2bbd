/**
 * The auditor's pages, served as files (no build step): a call list (`/ui`) and a call page
 * (`/ui/calls/{callId}`) with the timeline, the SIP ladder and the verify badge. The pages hold
 * no call data: their scripts read it from the API with the token the auditor gives (the URL
 * fragment `#token=…` or a form; kept in the tab's sessionStorage). A strict Content-Security-
 * Policy allows only this origin's scripts and styles, and the scripts build the DOM through
 * textContent, so event data is never markup.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { HttpContext } from '../context.ts';
import { callIdParams } from '../schemas.ts';

const DIR = new URL('../ui/', import.meta.url);
const TYPES: Record<string, string> = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
const ASSETS = ['ui.js', 'list.js', 'call.js', 'ui.css'];

export function registerUiRoutes(app: FastifyInstance, _ctx: HttpContext): void {
  const files = new Map([...ASSETS, 'list.html', 'call.html'].map((f) => [f, readFileSync(new URL(f, DIR))]));
  const send = (reply: FastifyReply, name: string) =>
    reply
      .header('content-type', TYPES[name.split('.').pop()!]!)
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', 'no-cache')
      .send(files.get(name));
  app.get('/favicon.ico', { config: { access: 'public' }, schema: { hide: true } }, async (_req, reply) => reply.code(204).send());
  app.get('/ui', { config: { access: 'public' }, schema: { hide: true } }, async (_req, reply) => send(reply, 'list.html'));
  app.get('/ui/calls/:callId', { config: { access: 'public' }, schema: { hide: true, params: callIdParams } }, async (_req, reply) => send(reply, 'call.html'));
  app.get<{ Params: { file: string } }>('/ui/assets/:file', {
    config: { access: 'public' },
    schema: { hide: true, params: { type: 'object', properties: { file: { type: 'string', enum: ASSETS } }, required: ['file'], additionalProperties: false } },
  }, async (req, reply) => send(reply, req.params.file));
}
