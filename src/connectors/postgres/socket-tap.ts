/**
 * Reading a query's rows from the socket below pg. pg's parser makes an object per protocol message and
 * pg-protocol a string per DataRow field; pg-copy-streams slices each CopyData message out of a list of
 * buffers and joins them again. For the rows of a binary COPY or of a binary-format cursor, Sluice reads
 * the socket's bytes itself: the data messages go straight to the tuple decoder, where they lie in the
 * socket's chunk, and every other message (row description, command complete, errors, notices, ready
 * for query) is handed to pg's parser whole and in order, so pg still runs the connection and the query.
 * The same take-over of the socket's 'data' listener as pg-copy-streams', for the rows as well.
 *
 * Protocol: https://www.postgresql.org/docs/current/protocol-message-formats.html
 */
import { SluiceError } from '../../core/errors.ts';
import type { CopyBinaryDecoder } from './copy-binary.ts';
import { binaryHeaderLength } from './copy-binary.ts';

/** The part of pg's Connection the tap uses (pg does not type it). */
export interface PgConnectionStream {
  stream: {
    listeners(event: 'data'): ((chunk: Buffer) => void)[];
    removeListener(event: 'data', listener: (chunk: Buffer) => void): unknown;
    on(event: 'data', listener: (chunk: Buffer) => void): unknown;
    pause(): unknown;
    resume(): unknown;
  };
}

/** Socket bytes queued for the reader before the socket is paused (backpressure on the server). */
const QUEUED_BYTES = 1 << 20;

const READY_FOR_QUERY = 0x5a; // Z

/**
 * A connection's socket, taken from pg's parser while one query runs: its chunks queue for `next()`.
 * `forward` hands whole messages to pg's parser; `detach` gives the socket back, at a message boundary.
 */
export class SocketTap {
  private readonly chunks: (Buffer | undefined)[] = [];
  private head = 0;
  private queued = 0;
  private paused = false;
  private wake: (() => void) | undefined;
  private handler: ((chunk: Buffer) => void) | undefined;
  private connection: PgConnectionStream | undefined;
  /** The query failed or the connection was lost: `next()` returns undefined once the queue is empty. */
  private stopped = false;

  attach(connection: PgConnectionStream): void {
    const listeners = connection.stream.listeners('data');
    if (listeners.length !== 1) throw new Error(`expected pg's one socket reader, found ${listeners.length}`);
    this.connection = connection;
    this.handler = listeners[0];
    connection.stream.removeListener('data', this.handler);
    connection.stream.on('data', this.onData);
  }

  private readonly onData = (chunk: Buffer): void => {
    this.chunks.push(chunk);
    this.queued += chunk.length;
    if (!this.paused && this.queued > QUEUED_BYTES) {
      this.paused = true;
      this.connection!.stream.pause();
    }
    this.notify();
  };

  /** Wakes a reader waiting in `next()` (data came, or the query failed: see `stop`). */
  notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** No more chunks will be read (the connection failed or is to be dropped): a waiting `next()` returns. */
  stop(): void {
    this.stopped = true;
    this.notify();
  }

  /** The next chunk of the socket; undefined once stopped with nothing queued. */
  async next(): Promise<Buffer | undefined> {
    while (this.head === this.chunks.length) {
      if (this.stopped || this.handler === undefined) return undefined;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    const chunk = this.chunks[this.head]!;
    this.chunks[this.head++] = undefined;
    if (this.head === this.chunks.length) {
      this.chunks.length = 0;
      this.head = 0;
    }
    this.queued -= chunk.length;
    if (this.paused && this.queued < QUEUED_BYTES / 2) {
      this.paused = false;
      this.connection!.stream.resume();
    }
    return chunk;
  }

  /** Hands whole protocol messages to pg's parser (and so to the query's handlers). */
  forward(bytes: Buffer): void {
    this.handler!(bytes);
  }

  /** Gives the socket back to pg's parser, after a ReadyForQuery: `rest` (bytes after it) goes to pg first. */
  detach(rest: Buffer | undefined): void {
    const handler = this.handler;
    if (handler === undefined) return;
    this.handler = undefined;
    const stream = this.connection!.stream;
    stream.removeListener('data', this.onData);
    stream.on('data', handler);
    if (rest !== undefined && rest.length > 0) handler(rest);
    if (this.paused) {
      this.paused = false;
      stream.resume();
    }
  }

  /**
   * Stops reading without giving the socket back (a read stopped early, mid-result): its further bytes
   * are dropped, and the caller ends the connection, whose protocol state only the server knows now.
   */
  abandon(): void {
    this.stopped = true;
    this.chunks.length = 0;
    this.head = 0;
    if (this.paused) {
      this.paused = false;
      this.connection?.stream.resume();
    }
    this.queued = 0;
    const stream = this.connection?.stream;
    if (stream !== undefined && this.handler !== undefined) {
      stream.removeListener('data', this.onData);
      stream.on('data', dropChunk);
    }
    this.handler = undefined;
  }
}

function dropChunk(): void {}

/**
 * A pg Submittable whose result is read through a tap. pg calls the handlers below on its active query
 * as it parses the messages the tap forwards; the reader follows the same messages in the socket's
 * bytes, so only an error needs keeping (and wakes the reader).
 */
export abstract class TappedQuery {
  readonly tap = new SocketTap();
  error: unknown;

  handleError(error: unknown): void {
    this.error ??= error;
    this.tap.stop();
  }

  handleRowDescription(): void {}
  handlePortalSuspended(): void {}
  handleCommandComplete(): void {}
  handleReadyForQuery(): void {}
  handleEmptyQuery(): void {}
  handleDataRow(): void {}
  handleCopyData(): void {}
}

/** What a framed read asks of the messages that are not its rows: `page` for a PortalSuspended or CommandComplete. */
export type MessageSeen = (type: number) => void;

/**
 * Splits a tapped socket's chunks into protocol messages: data messages (`frame`: 'd' CopyData, 'D'
 * DataRow) to the decoder, the rest to pg. Whole data messages of one tuple each are decoded in place
 * by the decoder's framed loop; any other case (a message split across chunks, the binary COPY header,
 * a tuple split across CopyData messages, several tuples in one) goes through the general path, which
 * copies only the bytes it must join.
 */
export class FramedReader {
  /** ReadyForQuery was passed to pg: the query is over and the socket given back. */
  done = false;
  private chunk: Buffer | undefined;
  private at = 0;
  /** A message split across chunks: its pieces so far, and its length once the header is whole. */
  private parts: Buffer[] = [];
  private partBytes = 0;
  /** Tuple-stream bytes of a data message the decoder has not taken yet (its batch filled, or a tuple goes on in the next message). */
  private payload: Buffer | undefined;
  private payloadAt = 0;
  private header: boolean;

  private readonly tap: SocketTap;
  private readonly frame: number;
  private readonly seen: MessageSeen;
  private readonly sql: string;
  constructor(tap: SocketTap, frame: number, copyHeader: boolean, seen: MessageSeen, sql: string) {
    this.tap = tap;
    this.frame = frame;
    this.header = copyHeader;
    this.seen = seen;
    this.sql = sql;
  }

  /** Whether bytes of the current chunk (or a payload) remain to decode. */
  get pending(): boolean {
    return (this.chunk !== undefined && this.at < this.chunk.length) || this.payload !== undefined;
  }

  push(chunk: Buffer): void {
    this.chunk = chunk;
    this.at = 0;
  }

  /**
   * Decodes rows into `decoder` until its batch is full (true) or the chunk is used up or the query is
   * over (false). Messages that are not rows go to pg on the way, in order.
   */
  run(decoder: CopyBinaryDecoder): boolean {
    if (this.payload !== undefined && this.decodePayload(decoder)) return true;
    const chunk = this.chunk;
    if (chunk === undefined) return false;
    if (this.parts.length > 0) {
      const whole = this.completeMessage(chunk);
      if (whole === undefined) return false;
      if (this.message(whole, 0, whole.length, decoder)) return true;
      if (this.done) return false;
    }
    let at = this.at;
    const end = chunk.length;
    while (at < end) {
      if (this.payload === undefined && !this.header) {
        at = decoder.fillFramed(chunk, at, end, this.frame);
        if (decoder.full) {
          this.at = at;
          return true;
        }
        if (at >= end) break;
      }
      if (end - at < 5) break;
      const total = 1 + chunk.readInt32BE(at + 1);
      if (at + total > end) break;
      this.at = at + total;
      if (this.message(chunk, at, at + total, decoder)) return true;
      if (this.done) return false;
      at = this.at;
    }
    if (at < end) {
      // A message goes on in the next chunk.
      this.parts.push(chunk.subarray(at));
      this.partBytes = end - at;
    }
    this.at = end;
    this.chunk = undefined;
    return false;
  }

  /** Adds `chunk` to the split message; the whole message (the chunk's rest left for `run`), or undefined. */
  private completeMessage(chunk: Buffer): Buffer | undefined {
    let needed: number;
    if (this.partBytes < 5) {
      const head = Buffer.concat([...this.parts, chunk.subarray(0, 5 - this.partBytes)]);
      if (head.length < 5) {
        this.parts = [head];
        this.partBytes = head.length;
        this.at = chunk.length;
        this.chunk = undefined;
        return undefined;
      }
      needed = 1 + head.readInt32BE(1);
    } else {
      const first = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts);
      this.parts = [first];
      needed = 1 + first.readInt32BE(1);
    }
    const missing = needed - this.partBytes;
    if (missing > chunk.length) {
      this.parts.push(chunk);
      this.partBytes += chunk.length;
      this.at = chunk.length;
      this.chunk = undefined;
      return undefined;
    }
    const whole = Buffer.concat([...this.parts, chunk.subarray(0, missing)]);
    this.parts = [];
    this.partBytes = 0;
    this.at = missing;
    return whole;
  }

  /** One whole message at `buffer[start, end)`: rows to the decoder (true when its batch filled), the rest to pg. */
  private message(buffer: Buffer, start: number, end: number, decoder: CopyBinaryDecoder): boolean {
    const type = buffer[start];
    if (type === this.frame) {
      // The general path: this message's payload joins what a previous one left.
      const body = buffer.subarray(start + 5, end);
      this.payload = this.payload === undefined ? body : Buffer.concat([this.payload.subarray(this.payloadAt), body]);
      this.payloadAt = 0;
      return this.decodePayload(decoder);
    }
    this.tap.forward(buffer.subarray(start, end));
    this.seen(type);
    if (type === READY_FOR_QUERY) {
      this.done = true;
      const rest = this.chunk === undefined ? undefined : this.chunk.subarray(this.at);
      this.chunk = undefined;
      this.tap.detach(rest);
    }
    return false;
  }

  /** Decodes the joined payload; true when the batch filled before its end. A tuple not yet whole is kept (copied) for the next message. */
  private decodePayload(decoder: CopyBinaryDecoder): boolean {
    let payload = this.payload!;
    let position = this.payloadAt;
    if (this.header) {
      const length = binaryHeaderLength(payload.subarray(position), this.sql);
      if (length < 0) {
        this.payload = Buffer.from(payload.subarray(position));
        this.payloadAt = 0;
        return false;
      }
      position += length;
      this.header = false;
    }
    position = decoder.fill(payload, position, payload.length);
    if (decoder.full && position < payload.length) {
      this.payloadAt = position;
      return true;
    }
    if (decoder.ended && position < payload.length) throw new SluiceError('PG_COPY', 'The server sent bytes after the binary COPY trailer.', { query: this.sql });
    if (position < payload.length) {
      // Copied: the payload may be a view of a socket chunk this would otherwise keep alive.
      payload = Buffer.from(payload.subarray(position));
      this.payload = payload;
      this.payloadAt = 0;
    } else this.payload = undefined;
    return decoder.full;
  }

  /** Bytes of a tuple left over when the stream ended: a row cut short. */
  get unfinished(): boolean {
    return this.payload !== undefined || this.parts.length > 0;
  }
}
