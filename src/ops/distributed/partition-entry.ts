/**
 * The process of a slot of `etl worker` (worker.ts, through serving-child.ts): it runs partition after
 * partition, one at a time, each request taken over IPC and its report sent back. The pipeline files
 * are loaded once, when the process starts (the worker's `prepare`), not once per partition.
 *
 * Supervised as the scheduler's runs are: the partition stops when the IPC channel closes (the worker
 * is gone, even by SIGKILL), and on SIGTERM (the worker draining past its timeout). Stopped, its sink's
 * transaction rolls back: nothing of the attempt stays, and the partition is retried by a worker. A
 * crash takes down only the partition this process was running; the worker starts a new process.
 */
import { serveRequests } from '../serving-child.ts';
import { type PartitionReport, type PartitionRequest, preloadPipelines, runPartition } from './partition-run.ts';

serveRequests<PartitionRequest, PartitionReport>('the partitions of distributed runs', 'worker', runPartition, (files) => preloadPipelines(files as string[]));
