/** siphash24 (mafintosh/siphash24) ships no types: the part this tool uses. */
declare module 'siphash24' {
  /** SipHash-2-4 of `data` under a 16-byte `key`, written to `out` (8 bytes) and returned. */
  function siphash24(data: Uint8Array, key: Uint8Array, out?: Uint8Array, noAssert?: boolean): Uint8Array;
  namespace siphash24 {
    const BYTES: number;
    const KEYBYTES: number;
    const WASM_SUPPORTED: boolean;
    const WASM_LOADED: boolean;
  }
  export default siphash24;
}
