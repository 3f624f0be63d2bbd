/**
 * One spoken call end to end, on real sockets (test/e2e/speech-calls.test.ts,
 * speech-failures.test.ts): a real sipp caller streams a WAV made at test time (flite, then sox
 * to 8 kHz PCMU) with rtp_stream into a voxledger node (embedded SIP, RTP and speech), whose
 * AudioCodes Bot API bot (the scripted test bot over HTTP) answers the runtime's activities as the
 * test says. What voxledger plays to the caller can be captured off loopback with tcpdump.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AC_TOKEN, defaultScript, startAcScriptedBot } from '../../bots/fixtures/ac-bot-api-scripted-bot.ts';
import { launchE2eNode, ended, nextCall, waitForEvents, type E2eNode } from './call-harness.ts';
import { startCapture, pcmuAudio, sipRequests } from './loopback-capture.ts';
import { startSipp } from '../../sip/sipp.ts';
import type { DomainEvent } from '../../../src/domain/events.ts';

export type Activity = Record<string, unknown>;

const SCENARIO = new URL('../scenarios/uac-speaks-then-waits-bye.xml', import.meta.url).pathname;

/** An 8 kHz mono PCMU WAV in `dir` (what sipp's rtp_stream plays): `leadMs` of silence, flite's words (or 0.5 s of silence), `tailMs` of silence. */
export function callerWav(dir: string, name: string, text: string | undefined, leadMs: number, tailMs: number): string {
  const speech = join(dir, `${name}-speech.wav`);
  const out = join(dir, `${name}.wav`);
  if (text) execFileSync('flite', ['-voice', 'kal', '-t', text, '-o', speech]);
  else execFileSync('sox', ['-n', '-r', '8000', '-c', '1', '-b', '16', speech, 'trim', '0', '0.5']);
  // a faint line noise (as a real phone line has), silence around, then G.711 µ-law
  execFileSync('sox', [speech, '-r', '8000', '-c', '1', '-e', 'u-law', out, 'pad', String(leadMs / 1000), String(tailMs / 1000), 'dither']);
  return out;
}

/** Sentences with silences between them, as one caller WAV in `dir` (each part: words, then `pauseMs`). */
export function callerTurns(dir: string, name: string, leadMs: number, turns: Array<{ text: string; pauseMs: number }>): string {
  const parts = turns.map((t, i) => callerWav(dir, `${name}-${i}`, t.text, i === 0 ? leadMs : 0, t.pauseMs));
  const out = join(dir, `${name}.wav`);
  execFileSync('sox', [...parts, out]);
  return out;
}

export function types(events: DomainEvent[]): string[] {
  return events.map((e) => e.type);
}

/** The activities the runtime posted to the bot, in order. */
export function activitiesToBot(requests: Array<{ route: string; body: Record<string, unknown> }>): Activity[] {
  return requests.filter((r) => r.route === 'activities').flatMap((r) => (r.body.activities as Activity[]) ?? []);
}

export function messagesToBot(requests: Array<{ route: string; body: Record<string, unknown> }>): string[] {
  return activitiesToBot(requests)
    .filter((a) => a.type === 'message')
    .map((a) => String(a.text));
}

export interface SpeechCallOptions {
  wav: string;
  /** The bot's node config: its `speech` section (the bot `bot` with `grammar` is added). */
  grammar: string;
  onStart: () => Promise<Activity[]> | Activity[];
  onMessage?: (text: string) => Promise<Activity[]> | Activity[];
  onEvent?: (a: Activity) => Activity[];
  /** Sends RTP itself (the caller's sipp streams nothing): called once the call is answered with its RTP port. */
  rtp?: (port: number) => Promise<void>;
  /** Runs once the call is answered (the node and the call id at hand); awaited before the call's end is. */
  during?: (node: E2eNode, callId: string) => Promise<void>;
  speech?: Record<string, unknown>;
  capture?: boolean;
  /** The node's answer mode (default: the config's, after-bot). */
  answer?: 'after-bot' | 'immediately';
}

export interface SpeechCallResult {
  events: DomainEvent[];
  toBot: string[];
  /** Every activity the bot was sent. */
  activities: Activity[];
  heard?: ReturnType<typeof pcmuAudio>;
  byeAt?: number;
  node: E2eNode;
  sippCode: number | null;
}

export async function speechCall(opts: SpeechCallOptions): Promise<SpeechCallResult> {
  const script = defaultScript();
  script.activities = async (body) => {
    const acts = (body.activities as Activity[]) ?? [];
    const out: Activity[] = [];
    for (const a of acts) {
      if (a.type === 'event' && a.name === 'start') out.push(...(await opts.onStart()));
      else if (a.type === 'message' && opts.onMessage) out.push(...(await opts.onMessage(String(a.text))));
      else if (a.type === 'event' && opts.onEvent) out.push(...opts.onEvent(a));
    }
    return { activities: out };
  };
  const bot = await startAcScriptedBot(script);
  const node = await launchE2eNode(
    { provider: 'ac-bot-api', botUrl: bot.url, token: AC_TOKEN, timeoutMs: 8000 },
    { speech: { bots: { bot: { grammar: opts.grammar } }, ...(opts.speech ?? {}) }, ...(opts.answer ? { answer: opts.answer } : {}) },
  );
  const id = nextCall(node);
  const capture = opts.capture ? await startCapture('udp and dst host 127.0.0.2') : undefined;
  try {
    // sipp reads rtp_stream's file when it loads the scenario (no [key] there): the path goes into the XML
    let xml = readFileSync(SCENARIO, 'utf8').replaceAll('[audio]', opts.wav);
    if (opts.rtp) xml = xml.replace(/<nop>[\s\S]*?<\/nop>/, '');
    const sipp = await startSipp({ scenario: xml, remote: node.sipAddr, timeoutMs: 40_000 });
    if (opts.rtp || opts.during) {
      const media = await waitForEvents(node, id, (es) => es.some((e) => e.type === 'BotConversationStarted'), 'the call to be answered');
      const m = media.find((e) => e.type === 'MediaNegotiated');
      if (opts.rtp) await opts.rtp(m?.type === 'MediaNegotiated' ? m.data.local.port : 0);
      if (opts.during) await opts.during(node, id()!);
    }
    const events = await ended(node, id, 30_000);
    const result = await sipp.done;
    const datagrams = capture ? await capture.stop() : undefined;
    // other tests on this machine use loopback too: keep this node's SIP port and this call's RTP port
    const sipPort = Number(node.sipAddr.split(':')[1]);
    const media = events.find((e) => e.type === 'MediaNegotiated');
    const rtpPort = media?.type === 'MediaNegotiated' ? media.data.local.port : -1;
    const bye = datagrams ? sipRequests(datagrams.filter((d) => d.sport === sipPort), 'BYE')[0] : undefined;
    return {
      events,
      toBot: messagesToBot(bot.requests),
      activities: activitiesToBot(bot.requests),
      ...(datagrams ? { heard: pcmuAudio(datagrams.filter((d) => d.src === '127.0.0.1' && d.sport === rtpPort)) } : {}),
      ...(bye ? { byeAt: bye.at } : {}),
      node,
      sippCode: result.code,
    };
  } finally {
    await node.dispose();
    await bot.close();
  }
}

/** The pids of this process's ps-stream children (the in-process node's recognizers). */
export function psStreamPids(): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(process.pid), '-x', 'ps-stream']).toString().trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return []; // pgrep exits 1 when none runs
  }
}
