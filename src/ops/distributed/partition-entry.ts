/**
 * The process of one partition job, started by `etl worker` (worker.ts, through supervised-child.ts).
 * It takes its request over IPC, runs the partition (partition-run.ts) and sends its report back.
 *
 * Supervised as the scheduler's runs are: the partition stops when the IPC channel closes (the worker
 * is gone, even by SIGKILL), and on SIGTERM (the worker draining past its timeout). Stopped, its sink's
 * transaction rolls back: nothing of the attempt stays, and the partition is retried by a worker.
 */
import { serveOneRequest } from '../supervised-child.ts';
import { type PartitionReport, type PartitionRequest, runPartition } from './partition-run.ts';

serveOneRequest<PartitionRequest, PartitionReport>('a partition of a distributed run', 'worker', runPartition);
