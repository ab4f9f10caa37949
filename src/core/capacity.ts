/**
 * Capacity mode's pure part: the events it reacts to, in spotcheck's words. No I/O, no clock of its own.
 */
import type { RepoRef } from './types.ts';

/** A `workflow_job` delivery in spotcheck's words (capacity-events.ts maps both forges' payloads to it). */
export interface CapacityJobEvent {
  readonly action: 'queued' | 'waiting' | 'in_progress' | 'completed';
  readonly repo: RepoRef;
  readonly installationId?: number;
  readonly jobId: number;
  readonly runId: number;
  readonly labels: readonly string[];
  readonly runnerName?: string;
}
