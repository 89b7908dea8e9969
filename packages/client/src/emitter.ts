import { reportCallbackError } from './host.js';

/** A pusher-js event callback: the event's data, and `{ user_id }` for client events on presence channels. */
export type EventCallback = (data?: any, metadata?: EventMetadata) => void;
/** A `bind_global` callback: every event's name and data. */
export type GlobalCallback = (eventName: string, data?: any) => void;

export interface EventMetadata {
  user_id?: string;
}

interface Binding {
  callback: EventCallback;
  context: unknown;
}

/**
 * pusher-js's `bind` / `unbind` / `bind_global` semantics. Each callback runs on its own: one that
 * throws is reported and the others still run, so an application bug never skips the client's own
 * bookkeeping or another listener.
 */
export class Dispatcher {
  private readonly bindings = new Map<string, Binding[]>();
  private globals: GlobalCallback[] = [];

  bind(eventName: string, callback: EventCallback, context?: unknown): this {
    if (typeof callback !== 'function') return this;
    const list = this.bindings.get(eventName);
    if (list === undefined) this.bindings.set(eventName, [{ callback, context }]);
    else list.push({ callback, context });
    return this;
  }

  bind_global(callback: GlobalCallback): this {
    if (typeof callback === 'function') this.globals.push(callback);
    return this;
  }

  /** Without arguments: every binding; with a name: that event's; with a callback and/or context: only those. */
  unbind(eventName?: string | null, callback?: EventCallback | null, context?: unknown): this {
    if (eventName == null && callback == null && context === undefined) {
      this.bindings.clear();
      return this;
    }
    for (const name of eventName == null ? [...this.bindings.keys()] : [eventName]) {
      const list = this.bindings.get(name);
      if (list === undefined) continue;
      const kept = list.filter((b) => (callback != null && b.callback !== callback) || (context !== undefined && b.context !== context));
      if (kept.length === 0) this.bindings.delete(name);
      else this.bindings.set(name, kept);
    }
    return this;
  }

  unbind_global(callback?: GlobalCallback): this {
    this.globals = callback === undefined ? [] : this.globals.filter((c) => c !== callback);
    return this;
  }

  unbind_all(): this {
    this.bindings.clear();
    this.globals = [];
    return this;
  }

  /** Global callbacks first, then this event's (pusher-js's order). */
  emit(eventName: string, data?: unknown, metadata?: EventMetadata): this {
    for (const callback of this.globals.slice()) {
      try {
        callback(eventName, data);
      } catch (error) {
        reportCallbackError(error);
      }
    }
    const list = this.bindings.get(eventName);
    if (list === undefined) return this;
    for (const binding of list.slice()) {
      try {
        if (metadata === undefined) binding.callback.call(binding.context ?? globalThis, data);
        else binding.callback.call(binding.context ?? globalThis, data, metadata);
      } catch (error) {
        reportCallbackError(error);
      }
    }
    return this;
  }
}
