import { describe, expect, test } from 'vitest';
import { CloseCode } from '../../../src/protocol/codes.js';
import { ErrorCode, errorCatalogue, isErrorCode, SwitchboardError } from '../../../src/protocol/errors.js';

describe('error catalogue', () => {
  const entries = Object.entries(errorCatalogue);

  test('covers every ErrorCode and nothing else', () => {
    expect(Object.keys(errorCatalogue).sort()).toEqual(Object.values(ErrorCode).sort());
  });

  test.each(entries)('%s has a message and a way to reach the client', (_code, entry) => {
    expect(entry.message.trim().length).toBeGreaterThan(0);
    const reachable = entry.pusherCode !== undefined || entry.closeCode !== undefined || entry.httpStatus !== undefined;
    expect(reachable).toBe(true);
  });

  test('close codes tell pusher-js the right reconnect behaviour', () => {
    // 4000-4099 never reconnect, 4100-4199 back off, 4200-4299 reconnect at once.
    expect(errorCatalogue.APP_NOT_FOUND.closeCode).toBe(4001);
    expect(errorCatalogue.UNSUPPORTED_PROTOCOL_VERSION.closeCode).toBe(4007);
    expect(errorCatalogue.ORIGIN_NOT_ALLOWED.closeCode).toBe(4009);
    expect(errorCatalogue.SIGNIN_TIMEOUT.closeCode).toBe(4009);
    expect(errorCatalogue.OVER_CAPACITY.closeCode).toBe(4100);
    expect(errorCatalogue.SERVER_SHUTTING_DOWN.closeCode).toBe(4200);
    expect(errorCatalogue.SLOW_CONSUMER.closeCode).toBe(4200);
    expect(errorCatalogue.PONG_TIMEOUT.closeCode).toBe(4201);
    expect(errorCatalogue.INACTIVITY_TIMEOUT.closeCode).toBe(4202);
    expect(errorCatalogue.CLIENT_EVENT_RATE_LIMITED.pusherCode).toBe(CloseCode.ClientEventRateLimit);
  });

  test('HTTP statuses are client errors except the internal one and an unavailable history store', () => {
    for (const [code, entry] of entries) {
      if (entry.httpStatus === undefined || code === ErrorCode.InternalError || code === ErrorCode.ApiHistoryUnavailable) continue;
      expect(entry.httpStatus, code).toBeGreaterThanOrEqual(400);
      expect(entry.httpStatus, code).toBeLessThan(500);
    }
  });
});

describe('SwitchboardError', () => {
  test('takes its numbers from the catalogue and appends the detail', () => {
    const error = new SwitchboardError(ErrorCode.ClientEventRateLimited, 'more than 10 per second');
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe('CLIENT_EVENT_RATE_LIMITED');
    expect(error.pusherCode).toBe(4301);
    expect(error.closeCode).toBeUndefined();
    expect(error.message).toBe('Client event rejected due to rate limit: more than 10 per second');
  });

  test('carries close code and HTTP status when the catalogue has them', () => {
    expect(new SwitchboardError(ErrorCode.AppNotFound).closeCode).toBe(4001);
    const auth = new SwitchboardError(ErrorCode.SubscriptionAuthFailed);
    expect(auth.httpStatus).toBe(401);
    expect(auth.subscriptionType).toBe('AuthError');
    expect(auth.message).toBe(errorCatalogue.SUBSCRIPTION_AUTH_FAILED.message);
  });

  test('isErrorCode recognises catalogue codes only', () => {
    expect(isErrorCode('APP_NOT_FOUND')).toBe(true);
    expect(isErrorCode('toString')).toBe(false);
    expect(isErrorCode(4001)).toBe(false);
  });
});
