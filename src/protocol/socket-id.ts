import { randomInt } from 'node:crypto';

// A random prefix per process keeps ids from different nodes and workers apart (the socket id
// is what a publisher passes to exclude itself, so it must not collide across the cluster);
// the counter keeps them unique within the process without drawing randomness per connection.
const processPrefix = randomInt(1, 2 ** 31 - 1);
let counter = randomInt(0, 1_000_000);

/** A new socket id of the form `\d+\.\d+` (what Pusher clients and SDKs expect), unique in this process. */
export function createSocketId(): string {
  counter += 1;
  return `${processPrefix}.${counter}`;
}
