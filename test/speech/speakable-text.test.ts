import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { speakableText, speechPieces } from '../../src/speech/speakable-text.ts';
import { hintsToJsgf, jsgfWords } from '../../src/speech/hints-grammar.ts';

describe('speakable text: what of a bot\'s text may reach a synthesizer', () => {
  it('strips SSML-like markup, keeps inner text, decodes the five entities', () => {
    const r = speakableText('<speak>Hello <break time="3s"/> <prosody rate="x-fast">world</prosody> &amp; you</speak>', 1000);
    assert.equal(r.text, 'Hello world & you');
    assert.equal(r.tagsRemoved, 5);
  });
  it('replaces control, bidi and zero-width characters; keeps line breaks as spaces', () => {
    const r = speakableText('a\u0000b\u0007c\u202Ed\u200Be\nf', 1000);
    assert.equal(r.text, 'a b c d e f');
    assert.equal(r.controlsReplaced, 4);
  });
  it('bounds huge text at a word boundary and says how much was cut', () => {
    const huge = 'word '.repeat(2_000_000);
    const r = speakableText(huge, 1000);
    assert.ok(r.text.length <= 1000 && r.text.endsWith('word'));
    assert.ok(r.truncatedChars > 9_000_000);
  });
  it('property: output is bounded, has no control characters and no tags', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 3000 }), fc.integer({ min: 10, max: 500 }), (s, max) => {
        const r = speakableText(s, max);
        assert.ok(r.text.length <= max);
        assert.ok(!/[\u0000-\u001f\u007f-\u009f]/.test(r.text));
        assert.ok(!/<\/?[A-Za-z!?][^<>]{0,512}>/.test(r.text));
      }),
    );
  });
  it('pieces: sentences, long ones cut at commas or spaces, nothing lost', () => {
    assert.deepEqual(speechPieces('Hello there. How are you? Fine!'), ['Hello there.', 'How are you?', 'Fine!']);
    const long = Array.from({ length: 100 }, (_, i) => `item ${i},`).join(' ');
    const pieces = speechPieces(long, 120);
    assert.ok(pieces.every((p) => p.length <= 121));
    assert.equal(pieces.join(' ').replace(/\s+/g, ' '), long);
  });
  it('hints: a keyword grammar of the normalised phrases; jsgfWords reads a grammar\'s words', () => {
    const g = hintsToJsgf(['Yes', 'no!', 'talk to an agent', '  ', 'yes'])!;
    assert.match(g, /public <utterance> = \( yes \| no \| talk to an agent \)\+;/);
    assert.equal(hintsToJsgf(['!!', '']), undefined);
    assert.deepEqual(jsgfWords(g).sort(), ['agent', 'an', 'no', 'talk', 'to', 'yes']);
    assert.deepEqual(jsgfWords('#JSGF V1.0;\ngrammar g;\npublic <a> = [hello] (check | close) my <b> {tag} /0.5/ card;\n<b> = account;').sort(), ['account', 'card', 'check', 'close', 'hello', 'my']);
  });
});
