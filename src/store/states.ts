/**
 * A message's states and the groups the code asks about. The groups are named once here so a
 * new state is placed in every question at one spot; SQL gets them through `sqlList`.
 */

/** Every state a message row can be in (the `messages.state` column). */
export const MESSAGE_STATES = [
  'pending',
  'processed',
  'duplicate',
  'ignored',
  'review',
  'quarantined',
  'failed',
  'dead',
] as const;
export type MessageState = (typeof MESSAGE_STATES)[number];

/** Not yet done: waiting for a first parse (`pending`) or for a retry (`failed`). */
export const WAITING_STATES = ['pending', 'failed'] as const satisfies readonly MessageState[];
/** Parsing went wrong: retryable (`failed`) or given up (`dead`). */
export const FAILED_STATES = ['failed', 'dead'] as const satisfies readonly MessageState[];
/** Waiting or given up: the states whose `processed_at` says nothing about a recent success. */
export const UNFINISHED_STATES = ['pending', 'failed', 'dead'] as const satisfies readonly MessageState[];
/** A parse outcome is final: replay only touches these when the extraction would change. */
export const SETTLED_STATES = [
  'processed',
  'duplicate',
  'ignored',
  'review',
  'quarantined',
] as const satisfies readonly MessageState[];
/** States that count as "we already have this mail" for duplicate detection (a duplicate points at one of these). */
export const DUPLICATE_ANCHOR_STATES = [
  'processed',
  'review',
  'ignored',
  'quarantined',
] as const satisfies readonly MessageState[];

/** True when `state` is one of `group`. */
export function inStates(group: readonly MessageState[], state: string): boolean {
  return (group as readonly string[]).includes(state);
}

/** A group as an SQL list literal, e.g. `('pending', 'failed')`; the values are constants, never input. */
export function sqlList(group: readonly MessageState[]): string {
  return `(${group.map((s) => `'${s}'`).join(', ')})`;
}
