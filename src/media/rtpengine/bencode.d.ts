// Types for the npm `bencode` package (4.x ships none): what the ng codec uses.
declare module 'bencode' {
  type Value = number | string | Uint8Array | Value[] | { [key: string]: Value };
  const bencode: {
    encode(value: unknown): Uint8Array;
    /** Without an encoding byte strings come back as Uint8Array (4.0.1's `encoding` breaks on dictionaries). */
    decode(data: Uint8Array): Value;
  };
  export default bencode;
}
