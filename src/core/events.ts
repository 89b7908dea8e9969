import type { AppState } from './app-state.js';
import type { Channel } from './channel.js';

/**
 * What the core tells observers (webhooks, cluster layer, metrics) about
 * channel and member changes on this node. Handlers must be cheap; the
 * default does nothing.
 */
export interface CoreEvents {
  channelOccupied(app: AppState, channel: Channel): void;
  channelVacated(app: AppState, channel: Channel): void;
  memberAdded(app: AppState, channel: Channel, userId: string): void;
  memberRemoved(app: AppState, channel: Channel, userId: string): void;
  cacheMiss(app: AppState, channel: Channel): void;
}

function ignore(): void {}

export const noCoreEvents: CoreEvents = {
  channelOccupied: ignore,
  channelVacated: ignore,
  memberAdded: ignore,
  memberRemoved: ignore,
  cacheMiss: ignore,
};
