/**
 * Turns a keyword / phrase list into a JSGF grammar for the embedded recognizer: an utterance is
 * one or more of the phrases. Words are lower-cased and reduced to letters and apostrophes, the
 * form the pocketsphinx dictionary uses; a phrase with no word left is dropped.
 */
export function hintsToJsgf(hints: readonly string[]): string | undefined {
  const phrases = hints
    .map((h) => h.toLowerCase().replace(/[^a-z' ]+/g, ' ').replace(/\s+/g, ' ').trim())
    .filter((h) => h.length > 0);
  if (phrases.length === 0) return undefined;
  const unique = [...new Set(phrases)];
  return `#JSGF V1.0;\ngrammar hints;\npublic <utterance> = ( ${unique.join(' | ')} )+;\n`;
}

/** The words a JSGF grammar uses (tokens that are not syntax, rule names or tags), lower-cased. */
export function jsgfWords(grammar: string): string[] {
  const body = grammar
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/\/\/[^\n]*/g, ' ')
    .replace(/^\s*#JSGF[^;]*;/m, ' ')
    .replace(/\bgrammar\s+[\w.]+\s*;/, ' ')
    .replace(/\bimport\s+<[^>]*>\s*;/g, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\/[\d.]+\//g, ' ')
    .replace(/\bpublic\b/g, ' ');
  const words = body.split(/[\s=;|()[\]*+"]+/).filter((w) => w.length > 0);
  return [...new Set(words.map((w) => w.toLowerCase()))];
}
