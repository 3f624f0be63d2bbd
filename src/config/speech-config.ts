/**
 * The `speech` config section: which engines recognize the caller and speak the bot's text
 * (embedded pocketsphinx/flite, or Google Cloud), the language, barge-in, how long a goodbye may
 * hold the BYE, and per-bot settings (grammar or hints, language, voice, barge-in). Every bad
 * value is VOX_CONFIG_INVALID naming its key.
 */
import { readFileSync } from 'node:fs';
import { VoxError, ErrorCodes } from '../domain/errors.ts';
import { isRecord } from '../domain/json.ts';
import { fieldParsers } from './field-parsers.ts';

export type RecognizerKind = 'embedded' | 'google' | 'none';
export type SynthesizerKind = 'embedded' | 'google' | 'none';

export interface GoogleSpeechEndpointConfig {
  apiEndpoint?: string;
  port?: number;
  insecure?: boolean;
  keyFilename?: string;
  credentials?: { client_email: string; private_key: string; [key: string]: string };
  /** Deadline of one synthesis request; for recognition, the most time to wait for the stream's first answer after the end of speech. */
  timeoutMs?: number;
  /** Speech-to-Text model (e.g. phone_call, telephony, latest_short). */
  model?: string;
}

export interface BotSpeechConfig {
  /** JSGF grammar text (embedded recognizer): the way to reliable words on telephone audio. */
  grammar?: string;
  /** Phrases: phrase hints for Google, a keyword grammar for the embedded recognizer (when no grammar). */
  hints?: string[];
  language?: string;
  voice?: string;
  bargeIn?: boolean;
  goodbyeMaxMs?: number;
  /** false: no speech for this bot's calls. */
  enabled?: boolean;
}

export interface SpeechConfig {
  recognizer: RecognizerKind;
  synthesizer: SynthesizerKind;
  language: string;
  voice?: string;
  bargeIn: boolean;
  goodbyeMaxMs: number;
  /** Longest bot text spoken per message (characters; the rest is cut at a word boundary and recorded). */
  maxPromptChars: number;
  /** Silence that ends an utterance (ms). */
  endpointingMs: number;
  /** Most calls recognized at once on this node; past it a call goes on without recognition (recorded as SttFailed). */
  maxStreams: number;
  /** Restarts of a call's recognizer after it died or hung (per call; 0: the call goes on without recognition at the first failure). */
  recognizerRestarts: number;
  /** Wait before the first restart (ms); doubled for each later one. */
  restartBackoffMs: number;
  embedded: { vadThreshold: number; noiseFloor: number; stallMs: number };
  google: GoogleSpeechEndpointConfig;
  bots: Record<string, BotSpeechConfig>;
}

export const SPEECH_DEFAULTS: SpeechConfig = {
  recognizer: 'embedded',
  synthesizer: 'embedded',
  language: 'en-US',
  bargeIn: true,
  goodbyeMaxMs: 8_000,
  maxPromptChars: 1_000,
  endpointingMs: 500,
  maxStreams: 8,
  recognizerRestarts: 3,
  restartBackoffMs: 500,
  embedded: { vadThreshold: 3.5, noiseFloor: 16, stallMs: 4_000 },
  google: {},
  bots: {},
};

const KEYS = ['recognizer', 'synthesizer', 'language', 'voice', 'bargeIn', 'goodbyeMaxMs', 'maxPromptChars', 'endpointingMs', 'maxStreams', 'recognizerRestarts', 'restartBackoffMs', 'embedded', 'google', 'bots'];
const BOT_KEYS = ['grammar', 'grammarFile', 'hints', 'language', 'voice', 'bargeIn', 'goodbyeMaxMs', 'enabled'];
const GOOGLE_KEYS = ['apiEndpoint', 'port', 'insecure', 'keyFilename', 'credentials', 'timeoutMs', 'model'];
const EMBEDDED_KEYS = ['vadThreshold', 'noiseFloor', 'stallMs'];
const LANGUAGE = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}$/;
const VOICE = /^[A-Za-z0-9_.-]{1,80}$/;
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*|\[[0-9A-Fa-f:.]+\])$/;

const { bad, int } = fieldParsers('speech');
function known(o: Record<string, unknown>, keys: string[], at: string): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) throw bad(`${at}${k}`, `is not a known key (known: ${keys.join(', ')})`);
}
function num(v: unknown, key: string, def: number, min: number, max: number): number {
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw bad(key, `must be a number from ${min} to ${max}`);
  return v;
}
function bool(v: unknown, key: string, def: boolean): boolean;
function bool(v: unknown, key: string, def: undefined): boolean | undefined;
function bool(v: unknown, key: string, def: boolean | undefined): boolean | undefined {
  if (v === undefined) return def;
  if (typeof v !== 'boolean') throw bad(key, 'must be true or false');
  return v;
}
function oneOf<T extends string>(v: unknown, key: string, values: readonly T[], def: T): T {
  if (v === undefined) return def;
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) throw bad(key, `must be one of ${values.join(', ')}`);
  return v as T;
}
function language(v: unknown, key: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !LANGUAGE.test(v)) throw bad(key, 'must be a BCP-47 language tag such as en-US');
  return v;
}
function voice(v: unknown, key: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !VOICE.test(v)) throw bad(key, 'must be a voice name (letters, digits, _ . -)');
  return v;
}

function parseGrammar(text: string, key: string): string {
  if (text.length > 100_000) throw bad(key, 'is longer than 100,000 characters');
  if (!/^\s*#JSGF\s+V1\.0/.test(text)) throw bad(key, 'must be a JSGF grammar starting with "#JSGF V1.0;"');
  if (!/\bpublic\s+<[^>]+>\s*=/.test(text)) throw bad(key, 'must have a public rule');
  return text;
}

function parseBot(v: unknown, at: string): BotSpeechConfig {
  if (!isRecord(v)) throw bad(at.slice(0, -1), 'must be an object');
  known(v, BOT_KEYS, at);
  const out: BotSpeechConfig = {};
  if (v.grammar !== undefined && v.grammarFile !== undefined) throw bad(`${at}grammar`, 'and grammarFile cannot both be set');
  if (v.grammar !== undefined) {
    if (typeof v.grammar !== 'string') throw bad(`${at}grammar`, 'must be JSGF text');
    out.grammar = parseGrammar(v.grammar, `${at}grammar`);
  }
  if (v.grammarFile !== undefined) {
    if (typeof v.grammarFile !== 'string') throw bad(`${at}grammarFile`, 'must be a path');
    let text: string;
    try {
      text = readFileSync(v.grammarFile, 'utf8');
    } catch (e) {
      throw bad(`${at}grammarFile`, `cannot be read: ${(e as Error).message}`);
    }
    out.grammar = parseGrammar(text, `${at}grammarFile`);
  }
  if (v.hints !== undefined) {
    if (!Array.isArray(v.hints) || v.hints.length > 500 || !v.hints.every((h) => typeof h === 'string' && h.length > 0 && h.length <= 100 && !/[\u0000-\u001f]/.test(h))) {
      throw bad(`${at}hints`, 'must be a list of at most 500 phrases of 1-100 characters');
    }
    out.hints = v.hints as string[];
  }
  const lang = language(v.language, `${at}language`);
  if (lang) out.language = lang;
  const vo = voice(v.voice, `${at}voice`);
  if (vo) out.voice = vo;
  const b = bool(v.bargeIn, `${at}bargeIn`, undefined);
  if (b !== undefined) out.bargeIn = b;
  if (v.goodbyeMaxMs !== undefined) out.goodbyeMaxMs = int(v.goodbyeMaxMs, `${at}goodbyeMaxMs`, 0, 0, 60_000);
  const e = bool(v.enabled, `${at}enabled`, undefined);
  if (e !== undefined) out.enabled = e;
  return out;
}

function parseGoogle(v: unknown): GoogleSpeechEndpointConfig {
  if (v === undefined) return {};
  if (!isRecord(v)) throw bad('google', 'must be an object');
  known(v, GOOGLE_KEYS, 'google.');
  const out: GoogleSpeechEndpointConfig = {};
  if (v.apiEndpoint !== undefined) {
    if (typeof v.apiEndpoint !== 'string' || !HOST.test(v.apiEndpoint)) throw bad('google.apiEndpoint', 'must be a host name');
    out.apiEndpoint = v.apiEndpoint;
  }
  if (v.port !== undefined) out.port = int(v.port, 'google.port', 443, 1, 65535);
  if (v.insecure !== undefined) {
    out.insecure = bool(v.insecure, 'google.insecure', false);
    if (out.insecure && !/^(127\.|localhost$|\[::1\]$)/.test(out.apiEndpoint ?? '')) throw bad('google.insecure', 'is only allowed with a loopback apiEndpoint (a local test double)');
  }
  if (v.keyFilename !== undefined) {
    if (typeof v.keyFilename !== 'string' || !v.keyFilename) throw bad('google.keyFilename', 'must be a path');
    out.keyFilename = v.keyFilename;
  }
  if (v.credentials !== undefined) {
    const c = v.credentials;
    if (!isRecord(c) || typeof c.client_email !== 'string' || typeof c.private_key !== 'string') throw bad('google.credentials', 'must have client_email and private_key');
    out.credentials = c as GoogleSpeechEndpointConfig['credentials'];
  }
  if (v.timeoutMs !== undefined) out.timeoutMs = int(v.timeoutMs, 'google.timeoutMs', 10_000, 100, 120_000);
  if (v.model !== undefined) {
    if (typeof v.model !== 'string' || !/^[a-z0-9_]{1,40}$/.test(v.model)) throw bad('google.model', 'must be a model name such as phone_call');
    out.model = v.model;
  }
  return out;
}

export function parseSpeechConfig(input: unknown, botIds: Set<string>): SpeechConfig {
  if (input === undefined) return { ...SPEECH_DEFAULTS, embedded: { ...SPEECH_DEFAULTS.embedded }, bots: {} };
  if (!isRecord(input)) throw new VoxError(ErrorCodes.CONFIG_INVALID, 'speech must be an object', { key: 'speech' });
  known(input, KEYS, '');
  const kinds = ['embedded', 'google', 'none'] as const;
  const emb = input.embedded;
  if (emb !== undefined && !isRecord(emb)) throw bad('embedded', 'must be an object');
  if (emb) known(emb, EMBEDDED_KEYS, 'embedded.');
  const out: SpeechConfig = {
    recognizer: oneOf(input.recognizer, 'recognizer', kinds, SPEECH_DEFAULTS.recognizer),
    synthesizer: oneOf(input.synthesizer, 'synthesizer', kinds, SPEECH_DEFAULTS.synthesizer),
    language: language(input.language, 'language') ?? SPEECH_DEFAULTS.language,
    bargeIn: bool(input.bargeIn, 'bargeIn', SPEECH_DEFAULTS.bargeIn),
    goodbyeMaxMs: int(input.goodbyeMaxMs, 'goodbyeMaxMs', SPEECH_DEFAULTS.goodbyeMaxMs, 0, 60_000),
    maxPromptChars: int(input.maxPromptChars, 'maxPromptChars', SPEECH_DEFAULTS.maxPromptChars, 10, 20_000),
    endpointingMs: int(input.endpointingMs, 'endpointingMs', SPEECH_DEFAULTS.endpointingMs, 100, 5_000),
    maxStreams: int(input.maxStreams, 'maxStreams', SPEECH_DEFAULTS.maxStreams, 0, 10_000),
    recognizerRestarts: int(input.recognizerRestarts, 'recognizerRestarts', SPEECH_DEFAULTS.recognizerRestarts, 0, 10),
    restartBackoffMs: int(input.restartBackoffMs, 'restartBackoffMs', SPEECH_DEFAULTS.restartBackoffMs, 0, 60_000),
    embedded: {
      vadThreshold: num(emb?.vadThreshold, 'embedded.vadThreshold', SPEECH_DEFAULTS.embedded.vadThreshold, 0.5, 20),
      noiseFloor: num(emb?.noiseFloor, 'embedded.noiseFloor', SPEECH_DEFAULTS.embedded.noiseFloor, 0, 1000),
      stallMs: int(emb?.stallMs, 'embedded.stallMs', SPEECH_DEFAULTS.embedded.stallMs, 500, 60_000),
    },
    google: parseGoogle(input.google),
    bots: {},
  };
  const vo = voice(input.voice, 'voice');
  if (vo) out.voice = vo;
  if (input.bots !== undefined) {
    if (!isRecord(input.bots)) throw bad('bots', 'must be an object keyed by bot id');
    for (const [id, b] of Object.entries(input.bots)) {
      if (!botIds.has(id)) throw bad(`bots.${id}`, 'names no configured bot');
      out.bots[id] = parseBot(b, `bots.${id}.`);
    }
  }
  checkEmbeddedLimits(out);
  return out;
}

/** flite's voices (Debian flite 2.2); the embedded engines speak and hear English only. */
const FLITE_VOICES = ['kal', 'kal16', 'awb', 'rms', 'slt', 'awb_time'];

function checkEmbeddedLimits(c: SpeechConfig): void {
  const places: Array<[string, BotSpeechConfig | SpeechConfig]> = [['', c], ...Object.entries(c.bots).map(([id, b]): [string, BotSpeechConfig] => [`bots.${id}.`, b])];
  for (const [at, s] of places) {
    if ((c.recognizer === 'embedded' || c.synthesizer === 'embedded') && s.language !== undefined && !/^en\b/i.test(s.language)) {
      throw bad(`${at}language`, `is ${s.language}, but the embedded engines know English only (en-US model); use google`);
    }
    if (c.synthesizer === 'embedded' && s.voice !== undefined && !FLITE_VOICES.includes(s.voice)) {
      throw bad(`${at}voice`, `must be a flite voice (${FLITE_VOICES.join(', ')})`);
    }
  }
}
