/** `voxledger start`: one runtime node from the config, until SIGINT/SIGTERM. */
import { systemClock } from '../domain/clock.ts';
import type { VoxConfig } from '../config/config.ts';
import { makeRouter } from '../config/config.ts';
import { openStore } from '../store/open-store.ts';
import { createLogger } from '../log/logger.ts';
import { buildBotDirectory } from '../bots/registry.ts';
import { createSignaling } from '../sip/create-signaling.ts';
import { CallRuntime } from '../runtime/runtime.ts';
import { BotNotifier } from '../runtime/bot-notifier.ts';
import type { EventStore } from '../store/port.ts';
import type { SignalingAdapter } from '../sip/port.ts';
import type { BotDirectory } from '../bots/directory.ts';

export interface RunningNode {
  runtime: CallRuntime;
  notifier: BotNotifier;
  store: EventStore;
  signaling: SignalingAdapter;
  bots: BotDirectory;
  stop(): Promise<void>;
}

/** Starts a node and returns handles (tests use this; the CLI waits for a signal). */
export async function launchNode(config: VoxConfig): Promise<RunningNode> {
  const log = createLogger({ level: config.log.level, bindings: { nodeId: config.nodeId } });
  const store = await openStore(config.store);
  const bots = buildBotDirectory(config.bots, systemClock, log);
  const signaling = createSignaling(config.sip, log);
  const runtime = new CallRuntime({ store, clock: systemClock, nodeId: config.nodeId, log, bots, signaling, route: makeRouter(config.routes), answerDelayMs: config.answerDelayMs, ringTimeoutMs: config.ringTimeoutMs });
  await runtime.start();
  const notifier = new BotNotifier({ store, bots, clock: systemClock, log, nodeId: config.nodeId, ...config.notifier });
  await notifier.start();
  const addr = signaling.address();
  log.info('voxledger started', { sip: addr ? `${addr.transport}:${addr.host}:${addr.port}` : signaling.kind, store: store.kind, bots: bots.list().map((b) => `${b.id}(${b.provider})`), routes: config.routes });
  return {
    runtime,
    notifier,
    store,
    signaling,
    bots,
    async stop() {
      await runtime.stop();
      await notifier.close();
      await bots.close();
      await store.close();
      log.info('voxledger stopped');
    },
  };
}

export async function startNode(config: VoxConfig): Promise<number> {
  const node = await launchNode(config);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await node.stop();
  return 0;
}
