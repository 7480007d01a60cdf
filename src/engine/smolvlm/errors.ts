// Errors shared by the in-process engine and the worker client (kept free of MLX imports so that
// the client can be loaded on the server thread without loading the native library).
export class CancelledError extends Error {
  constructor() {
    super('cancelled');
    this.name = 'CancelledError';
  }
}
