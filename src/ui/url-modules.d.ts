// Vite resolves `?url` imports to the emitted file's URL (the Automerge wasm).
declare module '*?url' {
  const url: string;
  export default url;
}
