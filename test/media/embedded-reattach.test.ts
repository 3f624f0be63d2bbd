/**
 * The embedded engine's `reattach` on real loopback sockets (restart recovery): engine A answers a
 * bare RTP peer and dies (its sockets closed, as when the process is killed); engine B, a new
 * instance on the same address and range, re-attaches from the MediaInfo A recorded. The leg is
 * on the very port the peer still sends to, with the recorded codec and payload types: the peer's
 * audio, sent on without any new SDP, reaches B's listeners, and B's playback reaches the peer.
 * The port counts as used by B's pool; a leg that is not B's to take (another address, a port
 * outside the range, another engine's, a port held by another socket) is refused with
 * VOX_MEDIA_ENGINE and takes nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import alawmulaw from 'alawmulaw';
import { EmbeddedMediaEngine } from '../../src/media/embedded/index.ts';
import type { MediaInfo } from '../../src/media/port.ts';
import { VoxError } from '../../src/domain/errors.ts';
import { RtpSocket, bareSdp } from './support/rtp-socket.ts';

const { alaw } = alawmulaw;

let nextRange = 20000 + 2 * Math.floor(Math.random() * 15000);
function range(pairs: number) {
  const min = nextRange;
  nextRange += 2 * pairs + 2;
  return { min, max: min + 2 * pairs - 1 };
}

async function engine(portRange: { min: number; max: number }, address = '127.0.0.1') {
  const e = new EmbeddedMediaEngine({ address, portRange });
  await e.start();
  return e;
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const refused = (e: unknown) => e instanceof VoxError && e.code === 'VOX_MEDIA_ENGINE';

test('a restarted engine binds the recorded port again: the peer\'s PCMA, sent on to the same port, reaches the new leg, and its playback reaches the peer', async () => {
  const portRange = range(4);
  const peer = await RtpSocket.open();
  const a = await engine(portRange);
  let b: EmbeddedMediaEngine | undefined;
  try {
    const first = await a.answer('c1', bareSdp(peer.port, { pts: [8, 101] }));
    const info = first.info!;
    assert.equal(info.codec, 'PCMA');
    await a.stop(); // the process dies: its sockets go with it

    b = await engine(portRange);
    const leg = await b.reattach('c1', structuredClone(info) as MediaInfo);
    assert.deepEqual(leg.info, info, 'the negotiated leg as recorded');
    assert.match(leg.localSdp, new RegExp(`m=audio ${info.local.port} RTP/AVP 8 101\\r\\n`));
    assert.match(leg.localSdp, /a=rtpmap:8 PCMA\/8000\r\n[\s\S]*a=sendrecv/);
    assert.equal(b.activeCount, 1);

    // the caller's audio, still sent to the recorded port, is heard by the new leg
    const frames: number[] = [];
    leg.onAudio((f) => frames.push(f.pcm[0]!));
    const tone = Buffer.from(alaw.encode(new Int16Array(160).fill(2000)));
    for (let i = 0; i < 20; i++) {
      peer.send(info.local.port, { pt: 8, payload: tone });
      await new Promise((r) => setTimeout(r, 5));
    }
    await until(() => frames.length >= 15);
    assert.ok(frames.every((s) => Math.abs(s - 2000) < 100), `PCMA decoded (samples ${frames.slice(0, 5).join(', ')})`);
    assert.ok(leg.stats().packetsReceived >= 15);

    // and the bot's audio reaches the caller, as PCMA with the negotiated payload type
    const played = leg.play(new Int16Array(160 * 5).fill(-3000));
    assert.equal(await played.done, 'played');
    const got = await peer.waitFor(5);
    assert.ok(got.length >= 5, `the peer got our audio (${got.length} packets)`);
    assert.ok(got.every((p) => p.pt === 8 && p.from.port === info.local.port), 'PCMA from the recorded port');

    // the pool counts the port as used: a new call gets another one
    const other = await b.offer('c2');
    assert.notEqual(Number(/m=audio (\d+)/.exec(other.localSdp)![1]), info.local.port);
    await other.release();

    // release frees it again
    await leg.release();
    assert.equal(b.activeCount, 0);
    const again = await b.reattach('c1', info);
    assert.equal(again.info!.local.port, info.local.port);
  } finally {
    peer.close();
    await a.stop();
    await b?.stop();
  }
});

test('reattach refuses a leg that is not this engine\'s to take, and takes no port for it', async () => {
  const portRange = range(2);
  const peer = await RtpSocket.open();
  const a = await engine(portRange);
  const info = (await a.answer('c1', bareSdp(peer.port))).info!;
  await a.stop();
  const b = await engine(portRange);
  const holder = dgram.createSocket('udp4');
  try {
    await assert.rejects(b.reattach('x', { ...info, local: { address: '127.0.0.9', port: info.local.port } }), refused, 'another address');
    await assert.rejects(b.reattach('x', { ...info, local: { ...info.local, port: portRange.max + 1 } }), refused, 'a port outside the range');
    await assert.rejects(b.reattach('x', { ...info, local: { ...info.local, port: info.local.port + 1 } }), refused, 'an odd (RTCP) port');
    await assert.rejects(b.reattach('x', { ...info, engine: 'rtpengine' }), refused, 'another engine\'s leg');
    // another socket holds the recorded port (as another process would)
    await new Promise<void>((r) => holder.bind(info.local.port, '127.0.0.1', r));
    await assert.rejects(b.reattach('c1', info), (e: unknown) => refused(e) && /could not bind/.test((e as Error).message), 'a port held elsewhere');
    assert.equal(b.activeCount, 0);
    holder.close();
    // nothing was left marked used: both pairs can be taken
    const legs = [await b.offer('n1'), await b.offer('n2')];
    assert.equal(legs.length, 2);
    for (const l of legs) await l.release();
    // a port this engine holds already is refused too
    const held = await b.reattach('c1', info);
    await assert.rejects(b.reattach('c9', info), (e: unknown) => refused(e) && /already held/.test((e as Error).message));
    await held.release();
  } finally {
    try {
      holder.close();
    } catch {
      /* closed */
    }
    peer.close();
    await b.stop();
  }
});
