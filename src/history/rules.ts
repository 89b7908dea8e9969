import type { AppConfig } from '../config/schema.js';

/** A history rule as the node applies it: its size already capped by `historyMaxSize`. */
export interface HistoryRule {
  readonly pattern: string;
  readonly size: number;
  readonly ttlMs: number;
}

interface CompiledRule extends HistoryRule {
  readonly regex: RegExp;
}

/** `chat-*` → /^chat-.*$/: `*` matches any run of characters, everything else itself. */
function compile(pattern: string): RegExp {
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}$`);
}

/** An app's history rules; the first rule whose pattern matches the whole channel name wins. */
export class HistoryRules {
  private readonly rules: CompiledRule[];
  /** Rules whose size was cut down to the node's cap (reported once, at start). */
  readonly capped: string[] = [];

  constructor(config: Pick<AppConfig, 'history'>, maxSize: number) {
    this.rules = config.history.map((rule) => {
      if (rule.size > maxSize) this.capped.push(rule.pattern);
      return { pattern: rule.pattern, size: Math.min(rule.size, maxSize), ttlMs: rule.ttlSeconds * 1000, regex: compile(rule.pattern) };
    });
  }

  get empty(): boolean {
    return this.rules.length === 0;
  }

  /** The rule of a channel, or null when the channel has no history. */
  match(channel: string): HistoryRule | null {
    for (const rule of this.rules) if (rule.regex.test(channel)) return rule;
    return null;
  }
}
