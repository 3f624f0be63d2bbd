/**
 * (a) Model-based: any interleaving of bot hangups (random activityParams, hostile headers,
 * delays 0..10,000), bot sessionParams (botOperationResult / botOperationData), caller BYE (twice,
 * and retransmitted to the runtime), CANCEL, STT start / final, time passing, errors, a bot that
 * cannot start, the same activity delivered twice and several deliveries in one turn, on inbound
 * and outbound calls. After every step the runtime's stream must match the model (CallModel) and
 * the history rules (checkCallHistory): exactly one CallEnded, last; at most one ByeSent, never
 * after ByeReceived, none when the caller's BYE came first; at most one BYE on the wire and none
 * after the peer's; every event valid; the CDR's botOperationResult the last value set.
 */
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { scenarioSetupArb, stepArb, describeStep, type Step } from './support/arbitraries.ts';
import { CallDriver } from './support/call-driver.ts';
import { Rig } from './support/rig.ts';
import { commandsConstraints, fcParams, runsOf } from './support/fc-params.ts';

class StepCommand implements fc.AsyncCommand<object, CallDriver> {
  constructor(readonly step: Step) {}
  check(): boolean {
    return true;
  }
  async run(_m: object, driver: CallDriver): Promise<void> {
    await driver.step(this.step);
    await driver.verify();
  }
  toString(): string {
    return describeStep(this.step);
  }
}

const RUNS = 300;

describe('runtime invariants under any interleaving (model-based, fast-check commands; in-process signaling, simulated clock)', () => {
  it(`every step keeps the stream equal to the model and the history rules (${runsOf(RUNS)} runs)`, async () => {
    await fc.assert(
      fc.asyncProperty(scenarioSetupArb, fc.commands([stepArb.map((s) => new StepCommand(s))], commandsConstraints({ maxCommands: 30, size: '+1' })), async (setup, cmds) => {
        const rig = await Rig.create({ defaults: setup.defaults, failStart: setup.failStart, ...(setup.answer ? { answer: setup.answer } : {}) });
        const driver = await CallDriver.start(rig, { ...setup, steps: [] });
        await driver.verify();
        await fc.asyncModelRun(() => ({ model: {}, real: driver }), cmds);
        await driver.finish();
        await driver.verify();
      }),
      fcParams(RUNS),
    );
  });
});
