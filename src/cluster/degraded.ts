import { BrokenCircuitError, CircuitState, ConsecutiveBreaker, circuitBreaker, handleAll, type CircuitBreakerPolicy } from 'cockatiel';
import type { LinkState } from '../adapters/types.js';
import { clusterMetrics } from '../metrics/index.js';

/** Thrown into the breaker when a cluster request cannot go out or nobody answered it. */
export class ClusterUnavailableError extends Error {}

/**
 * Degraded mode: cross-node work is off while the broker link is down or
 * while requests keep failing (the circuit is open). Local delivery never
 * waits on it. The circuit half-opens after `halfOpenAfterMs`, so the
 * node recovers by itself once the broker is back.
 */
export class DegradedMode {
  private link: LinkState = 'disconnected';
  private readonly breaker: CircuitBreakerPolicy;

  constructor(halfOpenAfterMs: number, consecutiveFailures = 3) {
    this.breaker = circuitBreaker(handleAll, { halfOpenAfter: halfOpenAfterMs, breaker: new ConsecutiveBreaker(consecutiveFailures) });
    this.breaker.onStateChange(() => this.update());
    this.update();
  }

  setLink(state: LinkState): void {
    this.link = state;
    this.update();
  }

  get linkUp(): boolean {
    return this.link === 'connected';
  }

  get circuit(): 'closed' | 'open' | 'half-open' | 'isolated' {
    switch (this.breaker.state) {
      case CircuitState.Closed:
        return 'closed';
      case CircuitState.Open:
        return 'open';
      case CircuitState.HalfOpen:
        return 'half-open';
      default:
        return 'isolated';
    }
  }

  get degraded(): boolean {
    return !this.linkUp || this.breaker.state === CircuitState.Open;
  }

  /**
   * Run a cluster request through the breaker. Resolves to null (answer
   * locally) when the link is down, the circuit is open, or `run` failed.
   */
  async guard<T>(run: () => Promise<T>): Promise<T | null> {
    try {
      return await this.breaker.execute(() => {
        if (!this.linkUp) throw new ClusterUnavailableError('broker link down');
        return run();
      });
    } catch (err) {
      if (err instanceof BrokenCircuitError || err instanceof ClusterUnavailableError) return null;
      throw err;
    }
  }

  private update(): void {
    clusterMetrics.degraded.set(this.degraded ? 1 : 0);
  }
}
