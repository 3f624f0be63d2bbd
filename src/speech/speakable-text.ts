/**
 * What of a bot's message text may reach a synthesizer. Bots are not trusted: their text can be
 * huge, hold control characters, or carry SSML-like markup meant to steer an engine. We speak
 * plain text only: markup tags are removed (their inner text stays), character entities decoded
 * for the common five, control characters become spaces, whitespace collapses, and the result is
 * cut at a word boundary to `maxChars`. What was changed is reported so the caller can record it.
 */
export interface SpeakableText {
  text: string;
  /** Characters cut off past maxChars. */
  truncatedChars: number;
  /** Markup tags removed. */
  tagsRemoved: number;
  /** Control characters replaced. */
  controlsReplaced: number;
}

const ENTITIES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&apos;': "'" };

export function speakableText(raw: string, maxChars: number): SpeakableText {
  // bound the work before any regex runs over it
  const bounded = raw.length > maxChars * 4 + 1024 ? raw.slice(0, maxChars * 4 + 1024) : raw;
  let tagsRemoved = 0;
  let controlsReplaced = 0;
  let text = bounded.replace(/<\/?[A-Za-z!?][^<>]{0,512}>/g, () => {
    tagsRemoved++;
    return ' ';
  });
  text = text.replace(/&(amp|lt|gt|quot|apos);/g, (m) => ENTITIES[m] ?? m);
  // C0/C1 controls, DEL, bidi overrides and zero-width characters
  text = text.replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g, (c) => {
    if (c !== '\n' && c !== '\t' && c !== '\r') controlsReplaced++;
    return ' ';
  });
  text = text.replace(/\s+/g, ' ').trim();
  let truncatedChars = raw.length > bounded.length ? raw.length - bounded.length : 0;
  if (text.length > maxChars) {
    const cut = text.lastIndexOf(' ', maxChars);
    const end = cut > maxChars / 2 ? cut : maxChars;
    truncatedChars += text.length - end;
    text = text.slice(0, end).trim();
  }
  return { text, truncatedChars, tagsRemoved, controlsReplaced };
}

/**
 * Splits text into pieces a synthesizer can start on early: sentences, and long sentences at
 * commas or spaces so no piece is longer than `maxPiece` characters.
 */
export function speechPieces(text: string, maxPiece = 240): string[] {
  const sentences = text.match(/[^.!?;:]+[.!?;:]*\s*/g) ?? [];
  const pieces: string[] = [];
  for (const s of sentences) {
    let rest = s.trim();
    while (rest.length > maxPiece) {
      let cut = rest.lastIndexOf(',', maxPiece);
      if (cut < maxPiece / 3) cut = rest.lastIndexOf(' ', maxPiece);
      if (cut < maxPiece / 3) cut = maxPiece;
      pieces.push(rest.slice(0, cut + 1).trim());
      rest = rest.slice(cut + 1).trim();
    }
    if (rest.length > 0) pieces.push(rest);
  }
  return pieces;
}
