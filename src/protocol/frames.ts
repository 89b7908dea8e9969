/** Pusher frames: decoding what clients send, encoding what the server sends. */
export * from './client-frames.js';
export * from './server-frames.js';
