import { describe, expect, it } from 'vitest';
import { parseBatchBody, parseTriggerBody } from '../../../src/api/event-input.js';
import { appSchema } from '../../../src/config/schema.js';
import { SwitchboardError } from '../../../src/protocol/errors.js';

const app = appSchema.parse({ id: 'a', key: 'k', secret: 's', maxEventPayloadKb: 1, maxChannelsPerPublish: 3, maxBatchSize: 2, maxEventNameLength: 10 });

function refusal(fn: () => unknown): { status: number | undefined; message: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof SwitchboardError) return { status: err.httpStatus, message: err.message };
    throw err;
  }
  throw new Error('accepted');
}

describe('parseTriggerBody', () => {
  it('accepts channels or channel, keeps data untouched and drops repeated channels', () => {
    expect(parseTriggerBody({ name: 'e', channels: ['a', 'b', 'a'], data: '{"x":1}', socket_id: '12.34', info: 'user_count' }, app)).toEqual({
      name: 'e',
      data: '{"x":1}',
      channels: [
        { name: 'a', kind: { type: 'public', cache: false } },
        { name: 'b', kind: { type: 'public', cache: false } },
      ],
      socketId: '12.34',
      info: { userCount: true, subscriptionCount: false, cache: false },
    });
    expect(parseTriggerBody({ name: 'e', channel: '#server-to-user-42', data: '' }, app).channels.map((c) => c.name)).toEqual(['#server-to-user-42']);
    expect(parseTriggerBody({ name: 'e', channel: 'private-encrypted-x', data: '' }, app).channels).toEqual([
      { name: 'private-encrypted-x', kind: { type: 'encrypted', cache: false } },
    ]);
  });

  it('refuses what breaks the app limits or the protocol, with 400 or 413', () => {
    expect(refusal(() => parseTriggerBody({ name: 'e', channels: ['a', 'b', 'c', 'd'], data: '' }, app))).toMatchObject({ status: 400 });
    expect(refusal(() => parseTriggerBody({ name: 'e', channels: [], data: '' }, app))).toMatchObject({ status: 400 });
    expect(refusal(() => parseTriggerBody({ name: 'e', channels: ['a'], channel: 'a', data: '' }, app))).toMatchObject({ status: 400 });
    expect(refusal(() => parseTriggerBody({ name: 'e', channels: ['private-encrypted-x', 'private-encrypted-y'], data: '' }, app))).toMatchObject({
      status: 400,
    });
    expect(refusal(() => parseTriggerBody({ name: 'e', channels: [1], data: '' }, app))).toMatchObject({ status: 400 });
    expect(refusal(() => parseTriggerBody({ name: 'e', channel: 'private-', data: '' }, app))).toMatchObject({ status: 400 });
    expect(refusal(() => parseTriggerBody({ name: '12345678901', channel: 'a', data: '' }, app))).toMatchObject({ status: 400 });
    expect(refusal(() => parseTriggerBody({ name: 'e', channel: 'a', data: 5 }, app))).toMatchObject({ status: 400 });
    expect(refusal(() => parseTriggerBody({ name: 'e', channel: 'a', data: '', socket_id: '1.2.3' }, app))).toMatchObject({ status: 400 });
    expect(refusal(() => parseTriggerBody(null, app))).toMatchObject({ status: 400 });
    expect(refusal(() => parseTriggerBody({ name: 'e', channel: 'a', data: 'x'.repeat(1025) }, app))).toMatchObject({ status: 413 });
    // 512 two-byte characters are 1024 bytes: exactly at the limit.
    expect(parseTriggerBody({ name: 'e', channel: 'a', data: 'é'.repeat(512) }, app).data).toHaveLength(512);
    expect(refusal(() => parseTriggerBody({ name: 'e', channel: 'a', data: 'é'.repeat(513) }, app))).toMatchObject({ status: 413 });
  });
});

describe('parseBatchBody', () => {
  it('returns every item, or refuses the whole batch naming the bad item', () => {
    expect(
      parseBatchBody(
        {
          batch: [
            { channel: 'a', name: 'e', data: '1' },
            { channel: 'b', name: 'e', data: '2' },
          ],
        },
        app,
      ),
    ).toHaveLength(2);
    expect(
      refusal(() =>
        parseBatchBody(
          {
            batch: [
              { channel: 'a', name: 'e', data: '1' },
              { channel: 'b', name: 'e' },
            ],
          },
          app,
        ),
      ),
    ).toEqual({
      status: 400,
      message: expect.stringContaining('batch[1].data'),
    });
    expect(refusal(() => parseBatchBody({ batch: [{ channels: ['a'], name: 'e', data: '1' }] }, app)).message).toContain('batch[0].channel is required');
    expect(refusal(() => parseBatchBody({ batch: [] }, app))).toMatchObject({ status: 400 });
    expect(refusal(() => parseBatchBody({ batch: Array(3).fill({ channel: 'a', name: 'e', data: '' }) }, app))).toMatchObject({ status: 400 });
  });
});
