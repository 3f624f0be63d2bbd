/**
 * Golden: every Dialogflow JSON example of the two specs (vaic-disconnecting-the-call.txt,
 * vaic-call-disconnect-notification.txt), sent through the official clients against local gRPC
 * doubles of CX and ES (Google offers no emulator), yields the expected normalized activities,
 * and the end-of-call notice goes out exactly as the spec's example shows.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createDialogflowCxConnector, parseDialogflowCxConfig } from '../../src/bots/dialogflow-cx/index.ts';
import { createDialogflowEsConnector, parseDialogflowEsConfig } from '../../src/bots/dialogflow-es/index.ts';
import type { BotActivity, BotConnector } from '../../src/bots/port.ts';
import { checkParams } from '../../src/domain/bot-params.ts';
import { cxResponse, endInteraction, esResponse, plain, startDialogflowDouble, struct, text, type DialogflowDouble, type Flavor } from './dialogflow-double/double.ts';
import { callInfo, doubleEndpoint, recordingSink, settle, testDeps } from './dialogflow-double/harness.ts';

/** The spec's Custom Payload examples for Dialogflow CX and ES (identical for both), verbatim. */
const PAYLOAD_EXAMPLES: Array<{ name: string; json: string; expected: BotActivity[] }> = [
  {
    name: 'hangup event',
    json: `{
  "activities": [{
    "type": "event",
    "name": "hangup"
  }]
}`,
    expected: [{ type: 'event', name: 'hangup' }],
  },
  {
    name: 'hangupReason',
    json: `{
  "sessionParams": {
    "hangupReason": "completed successfully"
  }
}`,
    expected: [{ type: 'event', name: 'config', sessionParams: { hangupReason: 'completed successfully' } }],
  },
  {
    name: 'hangupReason and hangupSipHeaders',
    json: `{
  "sessionParams": {
    "hangupReason": "completed successfully",
    "hangupSipHeaders": [
      {
        "name": "X-My-Header",
        "value": "my_value"
      }
    ]
  }
}`,
    expected: [
      {
        type: 'event',
        name: 'config',
        sessionParams: { hangupReason: 'completed successfully', hangupSipHeaders: [{ name: 'X-My-Header', value: 'my_value' }] },
      },
    ],
  },
];

/**
 * The spec's parameter examples (hangupSipHeaders with two headers; botOperationData), which it
 * says a bot may set "dynamically": for Dialogflow that is a Custom Payload's sessionParams.
 */
const PARAM_EXAMPLES: Array<{ name: string; json: string }> = [
  {
    name: 'hangupSipHeaders (two headers)',
    json: `{
   "hangupSipHeaders":[
      {
         "name":"X-My-Header",
         "value":"my_value"
      },
      {
         "name":"Another-X-Header",
         "value":"my_other_value"
      }
   ]
}`,
  },
  {
    name: 'botOperationData',
    json: `{
  "botOperationData": {
    "feedback": "user was not cooperative"
  }
}`,
  },
];

/** The spec's end-of-call example, the same for CX and ES. */
const CONVERSATION_END_EXAMPLE = `{
  "queryInput": {
    "event": {
      "name": "conversationEnd",
      "parameters": {
        "reason": "Client Side",
        "reasonCode": "client-disconnected"
      }
    }
  }
}`;

const doubles = {} as Record<Flavor, DialogflowDouble>;
const connectors: BotConnector[] = [];
before(async () => {
  doubles.cx = await startDialogflowDouble('cx');
  doubles.es = await startDialogflowDouble('es');
});
after(async () => {
  await Promise.all(connectors.map((c) => c.close()));
  await Promise.all(Object.values(doubles).map((d) => d.close()));
});

function connector(flavor: Flavor): BotConnector {
  const common = { projectId: 'golden', sendEventsToBot: ['conversationEnd'], ...doubleEndpoint(doubles[flavor]) };
  const c =
    flavor === 'cx'
      ? createDialogflowCxConnector(parseDialogflowCxConfig({ ...common, agentId: 'agent' }, 'bots[0]'), testDeps())
      : createDialogflowEsConnector(parseDialogflowEsConfig(common, 'bots[0]'), testDeps());
  connectors.push(c);
  return c;
}

/** The activities an agent's reply with one custom payload yields. */
async function activitiesFor(flavor: Flavor, payloadJson: Record<string, unknown>, callId: string): Promise<BotActivity[]> {
  const messages = [{ payload: struct(payloadJson) }];
  doubles[flavor].reply(flavor === 'cx' ? cxResponse(messages) : esResponse(messages));
  const sink = recordingSink();
  await connector(flavor).start(callInfo(callId), sink);
  await settle();
  return sink.all();
}

for (const flavor of ['cx', 'es'] as const) {
  const name = flavor === 'cx' ? 'Dialogflow CX' : 'Dialogflow ES';

  for (const [i, ex] of PAYLOAD_EXAMPLES.entries()) {
    test(`golden: the spec's ${name} Custom Payload example "${ex.name}" yields the expected activities (against a ${name} gRPC double)`, async () => {
      const got = await activitiesFor(flavor, JSON.parse(ex.json) as Record<string, unknown>, `golden-${flavor}-${i}`);
      assert.deepEqual(got, ex.expected);
      // The runtime accepts the params as they arrive: nothing rejected.
      for (const a of got) assert.deepEqual(checkParams(a.sessionParams, 'sessionParams').rejected, []);
    });
  }

  for (const [i, ex] of PARAM_EXAMPLES.entries()) {
    test(`golden: the spec's "${ex.name}" example set through a ${name} Custom Payload sessionParams arrives intact (against a ${name} gRPC double)`, async () => {
      const params = JSON.parse(ex.json) as Record<string, unknown>;
      const got = await activitiesFor(flavor, { sessionParams: params }, `golden-param-${flavor}-${i}`);
      assert.deepEqual(got, [{ type: 'event', name: 'config', sessionParams: params }]);
      const check = checkParams(got[0]?.sessionParams, 'sessionParams');
      assert.deepEqual(check.rejected, []);
      assert.deepEqual(check.params, params);
    });
  }

  test(`golden: the spec's ${name} end-of-call example is what goes out (against a ${name} gRPC double)`, async () => {
    const c = connector(flavor);
    const s = await c.start(callInfo(`golden-end-${flavor}`), recordingSink());
    const d = doubles[flavor];
    const from = d.requests.length;
    const example = JSON.parse(CONVERSATION_END_EXAMPLE) as { queryInput: { event: { name: string; parameters: Record<string, string> } } };
    const { reason, reasonCode } = example.queryInput.event.parameters;
    assert.equal(await c.notifyEnded(s.ref, { reason: reason!, reasonCode: reasonCode as 'client-disconnected' }), 'delivered');
    const req = d.requests[from]!.request as Record<string, any>;
    if (flavor === 'es') {
      assert.equal(req.queryInput.event.name, example.queryInput.event.name);
      assert.deepEqual(plain(req.queryInput.event.parameters), example.queryInput.event.parameters);
    } else {
      // CX event inputs have no parameters field: the event is named, and the spec's
      // "$session.params.event-conversationEnd.reasonCode" reads the session parameter.
      assert.equal(req.queryInput.event.event, example.queryInput.event.name);
      assert.deepEqual(plain(req.queryParams.parameters), { 'event-conversationEnd': example.queryInput.event.parameters });
    }
  });
}

test('golden: the spec\'s Dialogflow CX "End Session" transition yields a hangup (against a Dialogflow CX gRPC double)', async () => {
  doubles.cx.reply(cxResponse([text('Goodbye.'), endInteraction()], { page: 'projects/golden/locations/global/agents/agent/flows/00000000-0000-0000-0000-000000000000/pages/END_SESSION' }));
  const sink = recordingSink();
  await connector('cx').start(callInfo('golden-end-session'), sink);
  await settle();
  assert.deepEqual(sink.all(), [{ type: 'message', text: 'Goodbye.' }, { type: 'event', name: 'hangup' }]);
});

test('golden: the spec\'s Dialogflow ES "end of conversation" intent with a hangupReason payload yields the reason, then the hangup (against a Dialogflow ES gRPC double)', async () => {
  doubles.es.reply(esResponse([{ payload: struct(JSON.parse(PAYLOAD_EXAMPLES[1]!.json) as Record<string, unknown>) }], { endConversation: true }));
  const sink = recordingSink();
  await connector('es').start(callInfo('golden-end-intent'), sink);
  await settle();
  assert.deepEqual(sink.all(), [
    { type: 'event', name: 'config', sessionParams: { hangupReason: 'completed successfully' } },
    { type: 'event', name: 'hangup' },
  ]);
});
