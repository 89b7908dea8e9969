import { z } from 'zod';

/** Every event a webhook endpoint can ask for (Pusher's names). */
const WEBHOOK_EVENT_TYPES = [
  'channel_occupied',
  'channel_vacated',
  'member_added',
  'member_removed',
  'client_event',
  'cache_miss',
  'subscription_count',
] as const;

const httpUrl = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//i.test(u), 'must be an http:// or https:// URL');

/** Soketi writes the same fields in snake_case: accept its app definitions as they are. */
function fromSoketiShape(input: unknown): unknown {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return input;
  const w = { ...(input as Record<string, unknown>) };
  if ('event_types' in w && !('eventTypes' in w)) {
    w.eventTypes = w.event_types;
    delete w.event_types;
  }
  const filter = w.filter;
  if (typeof filter === 'object' && filter !== null && !Array.isArray(filter)) {
    const f = { ...(filter as Record<string, unknown>) };
    if ('channel_name_starts_with' in f && !('channelNameStartsWith' in f)) {
      f.channelNameStartsWith = f.channel_name_starts_with;
      delete f.channel_name_starts_with;
    }
    if ('channel_name_ends_with' in f && !('channelNameEndsWith' in f)) {
      f.channelNameEndsWith = f.channel_name_ends_with;
      delete f.channel_name_ends_with;
    }
    w.filter = f;
  }
  return w;
}

/** The fields of one webhook endpoint, after Soketi's snake_case names are mapped. */
export const webhookEndpointSchema = z
  .object({
    url: httpUrl.describe("`http://` or `https://` URL the batches are POSTed to; anything else stops start-up with the field's path."),
    eventTypes: z
      .array(z.enum(WEBHOOK_EVENT_TYPES))
      .min(1)
      .describe(`The events this endpoint gets, at least one of: ${WEBHOOK_EVENT_TYPES.join(', ')}.`),
    filter: z
      .object({
        channelNameStartsWith: z.string().min(1).optional().describe('Only channels whose name starts with this.'),
        channelNameEndsWith: z.string().min(1).optional().describe('Only channels whose name ends with this.'),
      })
      .strict()
      .optional()
      .describe('Only events of channels whose name starts with `channelNameStartsWith` and/or ends with `channelNameEndsWith`.'),
    headers: z
      .record(z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'a header name'), z.string())
      .default({})
      .describe(
        'Extra request headers; they never replace `Content-Type`, `X-Pusher-Key`, `X-Pusher-Signature` or `X-Switchboard-Webhook-Id` (compared case-insensitively; such entries are dropped).',
      ),
  })
  .strict();

/** One webhook endpoint of an app. */
export const webhookSchema = z.preprocess(fromSoketiShape, webhookEndpointSchema);

export type WebhookConfig = z.infer<typeof webhookSchema>;
