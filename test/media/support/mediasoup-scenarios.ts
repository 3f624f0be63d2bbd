/**
 * Call scenarios for the mediasoup engine, run against the worker double
 * (mediasoup-engine.test.ts) and against a real worker (mediasoup-live.test.ts).
 */
import assert from 'node:assert/strict';
import alawmulaw from 'alawmulaw';
import { EmbeddedMediaEngine } from '../../../src/media/embedded/index.ts';
import { MediasoupMediaEngine } from '../../../src/media/mediasoup/mediasoup-engine.ts';
import { MEDIASOUP_DEFAULTS, type MediasoupConfig } from '../../../src/media/mediasoup/mediasoup-config.ts';
import type { CreateWorker } from '../../../src/media/mediasoup/worker-api.ts';
import type { AudioFrame, MediaInfo } from '../../../src/media/port.ts';
import { bareSdp, RtpSocket, sdpPort } from './rtp-socket.ts';

const { mulaw, alaw } = alawmulaw;
let block = Math.floor(Math.random() * 40);

/** A mediasoup engine with an embedded inner leg, each on its own port block (20000-31999). */
export async function makeMediasoupEngine(createWorker: CreateWorker | undefined, config: Partial<MediasoupConfig> = {}) {
  const base = 20_000 + 300 * (block++ % 40);
  const inner = new EmbeddedMediaEngine({ address: '127.0.0.1', portRange: { min: base, max: base + 99 } });
  const engine = new MediasoupMediaEngine({
    config: { ...MEDIASOUP_DEFAULTS, rtcMinPort: base + 100, rtcMaxPort: base + 299, ...config },
    inner,
    ...(createWorker ? { createWorker } : {}),
  });
  await engine.start();
  return { engine, inner };
}

export async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const tone = (amplitude: number) => Int16Array.from({ length: 160 }, (_, i) => Math.round(amplitude * Math.sin((2 * Math.PI * i) / 20)));

/** Inbound: the caller's audio reaches the speech side as PCM through the router, the bot's audio reaches the caller. */
export async function inboundCall(engine: MediasoupMediaEngine, options: { codec?: 'PCMU' | 'PCMA' } = {}) {
  const caller = await RtpSocket.open();
  try {
    const pt = options.codec === 'PCMA' ? 8 : 0;
    const ep = await engine.answer(`ms-in-${Date.now()}`, bareSdp(caller.port, { pts: [pt, 101] }));
    const info = ep.info as MediaInfo;
    assert.equal(info.engine, 'mediasoup');
    assert.equal(info.codec, options.codec ?? 'PCMU');
    assert.equal(info.dtmfPayloadType, 101);
    const port = sdpPort(ep.localSdp);
    assert.equal(info.local.port, port);
    assert.deepEqual(info.remote, { address: '127.0.0.1', port: caller.port });
    assert.match(ep.localSdp, /\r\na=rtcp:\d+\r\n/, 'RTCP on its own port is announced (rtcpMux off)');
    assert.match(ep.localSdp, new RegExp(`m=audio ${port} RTP/AVP ${pt} 101\\r\\n`));

    const frames: AudioFrame[] = [];
    const samples: number[] = [];
    ep.onAudio((f) => {
      frames.push(f);
      samples.push(f.pcm[5]!);
    });
    const law = pt === 8 ? alaw : mulaw;
    const payload = Buffer.from(law.encode(tone(6000)));
    for (let i = 0; i < 40; i++) {
      caller.send(port, { pt, payload });
      await new Promise((r) => setTimeout(r, 20));
    }
    await until(() => frames.length >= 40);
    const want = tone(6000)[5]!;
    assert.ok(samples.every((s) => Math.abs(s - want) < want * 0.05), 'the speech side hears the caller\'s tone');

    const bot = new Int16Array(160 * 20);
    for (let i = 0; i < bot.length; i += 160) bot.set(tone(3000), i);
    assert.equal(await ep.play(bot).done, 'played');
    const got = await caller.waitFor(20);
    assert.equal(got.length, 20, 'the bot\'s audio reaches the caller (comedia: back to where the caller sends from)');
    assert.ok(got.every((p) => p.pt === pt && p.from.port === port));
    const decoded = law.decode(new Uint8Array(got[4]!.payload));
    assert.ok(Math.abs(decoded[5]! - tone(3000)[5]!) < 250);
    await ep.release();
    await ep.release();
    assert.equal(engine.activeCount, 0);
  } finally {
    caller.close();
  }
}

/** Outbound: our offer, the callee's answer, audio both ways. */
export async function outboundCall(engine: MediasoupMediaEngine) {
  const callee = await RtpSocket.open();
  try {
    const ep = await engine.offer(`ms-out-${Date.now()}`);
    assert.equal(ep.info, undefined);
    assert.match(ep.localSdp, /RTP\/AVP 0 8 101/);
    const port = sdpPort(ep.localSdp);
    await ep.acceptAnswer(bareSdp(callee.port, { pts: [8, 101] }));
    assert.equal((ep.info as MediaInfo | undefined)?.codec, 'PCMA');
    const frames: AudioFrame[] = [];
    ep.onAudio((f) => frames.push(f));
    await callee.stream(port, 20, { pt: 8 });
    await until(() => frames.length >= 20);
    await ep.play(new Int16Array(160 * 10).fill(700)).done;
    assert.equal((await callee.waitFor(10)).length, 10);
    assert.ok(callee.received.every((p) => p.pt === 8));
    await ep.release();
  } finally {
    callee.close();
  }
}
