import type Pusher from 'pusher';
import { describe, expect, it } from 'vitest';
import type { RunningNode } from '../../src/node.js';
import { CloseCode } from '../../src/protocol/codes.js';
import { signUserAuth } from '../../src/protocol/signatures.js';
import { useTestResources } from '../helpers/lifecycle.js';
import {
  connected,
  DEV_APP,
  nextEmit,
  type RawClient,
  record,
  sdkUserAuthentication,
  serverSdk,
  until,
  withTimeout,
  type PusherJs,
  type SigninIdentity,
} from '../helpers/node.js';

// User sign-in through pusher-js `signin()` with the SDK's `authenticateUser` as the auth endpoint.

const res = useTestResources();

/** The next raw protocol message named `event` that pusher-js receives. */
function nextMessage(client: PusherJs, event: string, ms = 3000): Promise<{ event: string; data: unknown }> {
  let listener: (message: { event: string; data: unknown }) => void = () => undefined;
  const seen = new Promise<{ event: string; data: unknown }>((resolve) => {
    listener = (message) => {
      if (message.event === event) resolve(message);
    };
    client.connection.bind('message', listener);
  });
  return withTimeout(seen, ms, `no ${event}`).finally(() => client.connection.unbind('message', listener));
}

/** A pusher-js client signed in as `user`, with its server-to-user channel subscribed. */
async function signedIn(node: RunningNode, sdk: Pusher, user: SigninIdentity, beforeSignin?: (client: PusherJs) => void): Promise<PusherJs> {
  const client = res.pusher(node, sdkUserAuthentication(sdk, user));
  await connected(client);
  beforeSignin?.(client);
  const success = nextMessage(client, 'pusher:signin_success');
  client.signin();
  await success;
  await until(() => client.user.serverToUserChannel?.subscribed === true, 3000, `${user.id}'s user channel`);
  return client;
}

/** A raw socket signed in as `userId`, for reading close codes exactly. */
async function rawSignedIn(node: RunningNode, userId: string): Promise<RawClient> {
  const raw = await res.raw(node);
  await raw.event('pusher:connection_established');
  const userData = JSON.stringify({ id: userId });
  raw.send({ event: 'pusher:signin', data: { auth: signUserAuth(DEV_APP, raw.socketId, userData), user_data: userData } });
  await raw.event('pusher:signin_success');
  return raw;
}

describe('sign-in', () => {
  it('signs pusher-js in with the SDK and answers pusher:signin_success with the signed user data', async () => {
    const node = await res.node();
    const sdk = serverSdk(node);
    const client = res.pusher(node, sdkUserAuthentication(sdk, { id: 'ana', user_info: { name: 'Ana' } }));
    await connected(client);
    const success = nextMessage(client, 'pusher:signin_success');
    client.signin();
    const message = await success;
    expect(JSON.parse((message.data as { user_data: string }).user_data)).toEqual({ id: 'ana', user_info: { name: 'Ana' } });
    await until(() => client.user.user_data?.id === 'ana', 3000, 'pusher-js user_data');
  });

  it('refuses a forged sign-in and lets nobody else onto that user channel', async () => {
    const node = await res.node();
    const raw = await res.raw(node);
    await raw.event('pusher:connection_established');
    const userData = JSON.stringify({ id: 'ana' });
    raw.send({ event: 'pusher:signin', data: { auth: `${DEV_APP.key}:${'0'.repeat(64)}`, user_data: userData } });
    const error = await raw.event('pusher:error');
    expect(error.data).toMatchObject({ code: null, message: expect.stringMatching(/sign-in signature/i) });

    raw.send({ event: 'pusher:subscribe', data: { channel: '#server-to-user-ana' } });
    const refused = await raw.event('pusher:subscription_error');
    expect(refused).toMatchObject({ channel: '#server-to-user-ana', data: { status: 403 } });
    expect(raw.closeCode).toBeUndefined();
  });
});

describe('messages to users', () => {
  it('sendToUser reaches every connection of that user and nobody else', async () => {
    const node = await res.node();
    const sdk = serverSdk(node);
    const anaPhone = await signedIn(node, sdk, { id: 'ana' });
    const anaLaptop = await signedIn(node, sdk, { id: 'ana' });
    const bob = await signedIn(node, sdk, { id: 'bob' });
    const bobNotes = record(bob.user, 'note');

    const phoneGot = nextEmit(anaPhone.user, 'note');
    const laptopGot = nextEmit(anaLaptop.user, 'note');
    await sdk.sendToUser('ana', 'note', { text: 'for ana' });
    expect(await phoneGot).toEqual({ text: 'for ana' });
    expect(await laptopGot).toEqual({ text: 'for ana' });

    // Bob's own message arrives after anything the node sent him before it.
    const bobMarker = nextEmit(bob.user, 'marker');
    await sdk.sendToUser('bob', 'marker', {});
    await bobMarker;
    expect(bobNotes).toEqual([]);
  });

  it("terminateUserConnections closes exactly that user's sockets, with 4009", async () => {
    const node = await res.node();
    const sdk = serverSdk(node);
    const anaPusherJs = await signedIn(node, sdk, { id: 'ana' });
    const anaRaw = await rawSignedIn(node, 'ana');
    const bob = await rawSignedIn(node, 'bob');
    const anonymous = await res.raw(node);
    await anonymous.event('pusher:connection_established');

    await sdk.terminateUserConnections('ana');
    expect(await anaRaw.closed()).toBe(CloseCode.Unauthorized);
    await until(() => anaPusherJs.connection.state !== 'connected', 3000, "ana's pusher-js connection to close");
    await until(() => node.core.connections.size === 2, 3000, 'the node to forget ana');

    expect(bob.closeCode).toBeUndefined();
    expect(anonymous.closeCode).toBeUndefined();
    bob.send({ event: 'pusher:ping', data: {} });
    await bob.event('pusher:pong');
  });
});

describe('watchlist', () => {
  it('tells a watcher who is online, then when a user comes online and goes offline with their last socket', async () => {
    const node = await res.node();
    const sdk = serverSdk(node);
    await signedIn(node, sdk, { id: 'bob' });

    let online: unknown[] = [];
    let offline: unknown[] = [];
    await signedIn(node, sdk, { id: 'wendy', watchlist: ['ana', 'bob'] }, (client) => {
      online = record(client.user.watchlist, 'online');
      offline = record(client.user.watchlist, 'offline');
    });
    await until(() => online.length === 1, 3000, 'initial online event');
    expect(online[0]).toMatchObject({ name: 'online', user_ids: ['bob'] });

    const anaPhone = await signedIn(node, sdk, { id: 'ana' });
    await until(() => online.length === 2, 3000, 'ana online');
    expect(online[1]).toMatchObject({ name: 'online', user_ids: ['ana'] });
    const anaLaptop = await signedIn(node, sdk, { id: 'ana' });

    anaPhone.disconnect();
    await until(() => node.core.connections.size === 3, 3000, "the node to forget ana's phone");
    anaLaptop.disconnect();
    await until(() => offline.length === 1, 3000, 'ana offline');
    expect(offline[0]).toMatchObject({ name: 'offline', user_ids: ['ana'] });
    expect(online).toHaveLength(2); // the laptop's sign-in was not a second "online"
  });
});
