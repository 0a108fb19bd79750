/**
 * The shapes of subscription rules: what a rule is declared as, what it compiles to, and the
 * message view filters and actions read. A leaf module: the compilers import it, it imports none
 * of them.
 * @module
 */
import type { PropertyValue, ServiceBusMessage } from '../message.ts';

export type RuleFilter =
  | { kind: 'sql'; expression: string }
  | {
      kind: 'correlation';
      correlationId?: string;
      messageId?: string;
      to?: string;
      replyTo?: string;
      subject?: string;
      sessionId?: string;
      replyToSessionId?: string;
      contentType?: string;
      applicationProperties?: Record<string, PropertyValue>;
    }
  | { kind: 'true' }
  | { kind: 'false' };

export interface RuleDescription {
  name: string;
  filter: RuleFilter;
  action?: { sqlExpression: string };
}

export interface CompiledRule {
  readonly name: string;
  matches(message: RoutableMessage): boolean;
  /** Applies the rule action (SET/REMOVE on properties); returns a new message, never mutates. Identity when no action. */
  apply(message: RoutableMessage): RoutableMessage;
}

export type RoutableMessage = ServiceBusMessage & {
  sequenceNumber?: bigint;
  enqueuedTime?: Date;
  deliveryCount?: number;
};
